// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Hyper-parameters of a decoder-only model of one of the supported families (modelfamily.h), read
// from a Hugging Face `config.json`.
//
// One plain struct, validated once, with per-layer accessors so that GQA (fewer KV heads than
// query heads) is a first-class shape. The family's fixed traits live in its FamilyTraits row;
// what varies between checkpoints of a family (biases, rotary dims, parallel residual, sliding
// window, activation) is read here by the family's reader. rope_scaling may be absent or
// {"type"|"rope_type": "linear"}. Anything else is refused with an InputError naming the field
// (docs/model-families.md lists them).

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "io/modelfamily.h"

namespace gqa {

struct ModelConfig {
    std::int64_t vocabSize = 0;
    std::int64_t hiddenSize = 0;
    std::int64_t intermediateSize = 0;
    std::int64_t numLayers = 0;
    std::int64_t numHeads = 0;
    std::int64_t numKvHeads = 0;   ///< equals numHeads for MHA (absent in config.json means MHA)
    std::int64_t headDim = 0;      ///< hidden / heads unless config.json gives head_dim
    std::string family = "llama";  ///< FamilyTraits::id
    double normEps = 1e-6;         ///< rms_norm_eps / layer_norm_eps (fixed 1e-5 for OLMo)
    Activation activation = Activation::Silu;
    bool qkvBias = false;           ///< q_proj, k_proj, v_proj carry a bias
    bool outputBias = false;        ///< o_proj (Phi: dense) carries a bias
    bool mlpBias = false;           ///< every MLP projection carries a bias
    bool lmHeadBias = false;        ///< Phi
    bool parallelResidual = false;  ///< x + attn(n) + mlp(n) from one norm (Phi, StableLM option)
    /// partial_rotary_factor: the share of each head's dimensions that RoPE rotates (1 = all).
    double partialRotaryFactor = 1.0;
    /// Mistral: a query sees only the last `slidingWindow` keys (itself included); 0 = all.
    std::int64_t slidingWindow = 0;
    double ropeTheta = 10000.0;
    double ropeLinearFactor = 1.0;  ///< rope_scaling {"type": "linear", "factor": f}; 1 = none
    std::int64_t maxPositionEmbeddings = 2048;
    bool tieWordEmbeddings = false;
    std::optional<std::int64_t> bosTokenId;
    std::optional<std::int64_t> eosTokenId;
    DType dtype = DType::F32;  ///< torch_dtype: the dtype weights are stored in

    /// The config.json text this was read from (kept so that writing preserves unknown fields).
    std::string sourceJson;

    const FamilyTraits& traits() const;
    /// The family's normalisation (a property of the family, not of config.json).
    NormKind norm() const;
    /// Gemma: the embeddings are multiplied by sqrt(hidden) (a property of the family).
    bool scaleEmbeddings() const;
    bool hasPostAttentionNorm() const { return !parallelResidual; }
    /// Leading dimensions of each head that RoPE rotates, int(head_dim * partial_rotary_factor)
    /// as Hugging Face truncates; the rest pass through unrotated.
    std::int64_t rotaryDims() const {
        return static_cast<std::int64_t>(double(headDim) * partialRotaryFactor);
    }

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
    /// A config of family `familyId` with the common fields (sizes, heads, rope, tying, token ids,
    /// dtype, norm epsilon) of `shape` and every family field at its Hugging Face default, after
    /// `familyFieldsJson` (a JSON object, e.g. {"use_qkv_bias": true}) is applied: for
    /// make-test-model and tests. InputError for an unknown family or a refused field.
    static ModelConfig ofFamily(const std::string& familyId, const ModelConfig& shape,
                                const std::string& familyFieldsJson = "{}");
    /// One line naming the family and what sets it apart, for inspect and the studio: e.g.
    /// "PhiForCausalLM: LayerNorm, parallel attention and MLP, RoPE on 16 of 64 dims, biases".
    std::string familySummary() const;
    /// config.json text: the source fields kept, the known ones overwritten from this struct.
    std::string toJson() const;
};

}  // namespace gqa
