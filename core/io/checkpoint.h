// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A Hugging Face model folder held in memory: its config and every stored tensor, in the stored
// dtype, on the CPU, under the original names and in the original order.
//
// Keeping stored dtypes and names is what makes save(load(x)) reproduce x bit for bit; a
// DecoderModel is built from a Checkpoint by converting to the compute dtype and device. Saving
// writes config.json and the tensors (single file or sharded), each file atomically, and copies
// the tokenizer and generation config from a source folder when asked.

#include <map>
#include <string>
#include <vector>

#include <torch/torch.h>

#include "io/modelconfig.h"
#include "base/progress.h"

namespace gqa {

struct Checkpoint {
    ModelConfig config;
    std::vector<std::string> order;                ///< tensor names in stored order
    std::map<std::string, torch::Tensor> tensors;  ///< CPU tensors in stored dtype
    std::map<std::string, std::string> metadata;   ///< safetensors __metadata__

    const torch::Tensor& at(const std::string& name) const;
    /// Replaces or adds a tensor (added names go to the end of `order`).
    void set(const std::string& name, torch::Tensor tensor);
    /// Removes a tensor; no-op when absent.
    void erase(const std::string& name);

    /// Reads config.json and the safetensors of `folder`, checks every tensor Llama needs is
    /// present with the shape the config implies (InputError naming the tensor otherwise).
    static Checkpoint load(const std::string& folder, ProgressSink& progress);
    static Checkpoint load(const std::string& folder);

    /// Writes config.json (with torch_dtype, num_key_value_heads) and the tensors to `folder`.
    /// maxShardBytes > 0 shards as Hugging Face does. Files such as tokenizer.model,
    /// tokenizer_config.json, special_tokens_map.json and generation_config.json are copied
    /// from `copyAuxFrom` when it is non-empty and differs from `folder`.
    void save(const std::string& folder, std::uint64_t maxShardBytes = 0,
              const std::string& copyAuxFrom = "") const;
};

/// A copy whose floating-point tensors are stored in `dtype` (config.json's torch_dtype too):
/// one rounding from whatever precision the tensors are held in.
Checkpoint convertedTo(const Checkpoint& checkpoint, DType dtype);

/// Names of the auxiliary files copied along with a checkpoint.
const std::vector<std::string>& auxiliaryModelFiles();

}  // namespace gqa
