// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Hyper-parameters of a Llama-architecture model, read from a Hugging Face `config.json`.
//
// One plain struct, validated once, with per-layer accessors so that GQA (fewer KV heads than
// query heads) is a first-class shape. Supported: `LlamaForCausalLM` / `model_type: "llama"`,
// SiLU MLP, no attention or MLP bias, rope_scaling absent or {"type"|"rope_type": "linear"}.
// Anything else is refused with an InputError naming the field.

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/dtype.h"

namespace gqa {

struct ModelConfig {
    std::int64_t vocabSize = 0;
    std::int64_t hiddenSize = 0;
    std::int64_t intermediateSize = 0;
    std::int64_t numLayers = 0;
    std::int64_t numHeads = 0;
    std::int64_t numKvHeads = 0;  ///< equals numHeads for MHA (absent in config.json means MHA)
    std::int64_t headDim = 0;     ///< hidden / heads unless config.json gives head_dim
    double rmsNormEps = 1e-6;
    double ropeTheta = 10000.0;
    double ropeLinearFactor = 1.0;  ///< rope_scaling {"type": "linear", "factor": f}; 1 = none
    std::int64_t maxPositionEmbeddings = 2048;
    bool tieWordEmbeddings = false;
    std::optional<std::int64_t> bosTokenId;
    std::optional<std::int64_t> eosTokenId;
    DType dtype = DType::F32;  ///< torch_dtype: the dtype weights are stored in

    /// The config.json text this was read from (kept so that writing preserves unknown fields).
    std::string sourceJson;

    // --- derived, per layer (all layers share one shape in Llama) ---
    std::int64_t headsInLayer(std::int64_t /*layer*/) const { return numHeads; }
    std::int64_t kvHeadsInLayer(std::int64_t /*layer*/) const { return numKvHeads; }
    /// Query heads served by each KV head (1 for MHA).
    std::int64_t groupSize() const { return numKvHeads > 0 ? numHeads / numKvHeads : 0; }
    bool isMha() const { return numKvHeads == numHeads; }
    std::int64_t qDim() const { return numHeads * headDim; }
    std::int64_t kvDim() const { return numKvHeads * headDim; }
    /// Number of weights, counting the LM head only when it is not tied.
    std::int64_t parameterCount() const;
    /// KV-cache bytes for one token at `kvHeads` KV heads and the given element size.
    std::uint64_t kvCacheBytesPerToken(std::int64_t kvHeads, std::size_t elementBytes) const;
    /// Valid GQA targets: the divisors of numHeads, ascending.
    std::vector<std::int64_t> validKvHeadCounts() const;

    /// Throws InputError naming the first inconsistent field.
    void validate() const;

    /// Parses config.json text; `origin` names the file in messages.
    static ModelConfig fromJson(const std::string& jsonText, const std::string& origin);
    static ModelConfig fromFile(const std::string& path);
    /// config.json text: the source fields kept, the known ones overwritten from this struct.
    std::string toJson() const;
};

}  // namespace gqa
