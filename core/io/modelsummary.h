// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What a model folder contains, read from config.json and the safetensors headers only (no tensor
// data is touched, so this is fast even for large checkpoints). Torch-free: the studio's panels
// and the CLI's `inspect` consume it directly.

#include <cstdint>
#include <string>
#include <vector>

#include "io/modelconfig.h"
#include "io/safetensors.h"

namespace gqa {

struct StoredTensor {
    TensorInfo info;
    std::string file;  ///< file name inside the folder (shard)
};

struct ModelSummary {
    std::string folder;
    ModelConfig config;
    std::vector<StoredTensor> tensors;  ///< in file order
    bool sharded = false;
    std::int64_t storedParameterCount = 0;  ///< sum of numel over all stored tensors
    std::uint64_t storedBytes = 0;
    bool hasTokenizer = false;  ///< tokenizer.model present
    /// Problems found while cross-checking tensors against the config (missing or mis-shaped).
    std::vector<std::string> problems;
};

/// Reads and validates config.json and the safetensors headers of `folder`.
/// Throws InputError when the folder is not a readable checkpoint of a supported family;
/// tensor/config mismatches are listed in `problems` rather than thrown, so a user can see all of
/// them.
ModelSummary summarizeModelFolder(const std::string& folder);

}  // namespace gqa
