// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The least-squares start of the conversion training (method §7.2, §6.1): what the gates move each
// head onto when the training starts from the least-squares merge, namely the merged keys and
// values and each query head's refitted q_proj/o_proj. They are kept in one safetensors file
// beside the aligned MHA model, so that the aligned folder stays a standard Hugging Face
// checkpoint and the same folder can start a training from either merge.
//
// The file's tensors carry the training-checkpoint names of gatedkvmodel.h (kv_layer.*,
// merged_q_proj, merged_o_proj) in float32, and its metadata the G they were fitted for.

#include <cstdint>
#include <string>

#include "io/checkpoint.h"

namespace gqa {

constexpr const char* kLeastSquaresStartFile = "least-squares-start.safetensors";

/// Writes folder/kLeastSquaresStartFile from `mergedGqa`, the least-squares GQA merge
/// (leastSquaresMergeToGqa) of the folder's contiguous-group MHA model.
void writeLeastSquaresStart(const std::string& folder, const Checkpoint& mergedGqa);

bool hasLeastSquaresStart(const std::string& folder);
/// True when the folder holds a least-squares start fitted for `groups` KV heads: the start an
/// unset ConversionTrainingConfig::startMerge chooses (another G's start does not apply).
bool hasLeastSquaresStartFor(const std::string& folder, std::int64_t groups);

/// Adds the folder's start tensors to `student` (the folder's MHA model). InputError when the file
/// is missing or malformed, does not fit the model, or was fitted for another number of KV heads.
void addLeastSquaresStart(const std::string& folder, std::int64_t groups, Checkpoint& student);

}  // namespace gqa
