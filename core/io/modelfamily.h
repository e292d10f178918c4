// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The model families the pipeline converts, and where they differ, as data (docs/method.md §13,
// docs/model-families.md). Every family is a decoder-only transformer with rotary attention; they
// differ in the kind of normalisation, the MLP, whether attention and MLP run in parallel from one
// norm, how many dimensions of a head rotate, which projections carry a bias, whether embeddings
// are scaled, and the tensor names. One FamilyTraits row per family holds the fixed part; the
// per-checkpoint part (bias flags, rotary dims, sliding window, ...) is read into ModelConfig by
// the family's own small reader in modelconfig.cpp, which refuses, by field name, anything that
// would break the function-preserving alignment.
//
// Tensor names follow Hugging Face: global tensors by full name, per-layer ones as a suffix after
// "model.layers.N." without ".weight"/".bias". An empty name: the family never stores it.
// Torch-free: the widgets and `inspect` read it.

#include <cstdint>
#include <string>
#include <vector>

namespace gqa {

struct ModelConfig;

/// How a hidden state is normalised (all in float32 or wider, as Hugging Face does).
enum class NormKind {
    Rms,            ///< x / rms(x), cast back, times weight (Llama, Qwen2, Mistral)
    RmsUnitOffset,  ///< x / rms(x) times (1 + weight), then cast back (Gemma)
    LayerNorm,      ///< (x - mean) / std * weight + bias (Phi, StableLM)
    LayerNormPlain  ///< (x - mean) / std, no parameters (OLMo)
};

/// The MLP's activation, named as in Hugging Face's ACT2FN.
enum class Activation {
    Silu,      ///< "silu"
    GeluTanh,  ///< "gelu_new", "gelu_pytorch_tanh": the tanh approximation
    GeluErf    ///< "gelu": the exact erf form
};

/// down(act(gate(x)) * up(x)) or fc2(act(fc1(x))); the plain one stores fc1/fc2 as up/down.
enum class MlpLayout { Gated, Plain };

/// The weights of one decoder layer, by role. Every role has a Hugging Face name per family.
enum class LayerTensor {
    InputNormWeight,
    InputNormBias,
    PostNormWeight,
    PostNormBias,
    QWeight,
    QBias,
    KWeight,
    KBias,
    VWeight,
    VBias,
    OWeight,
    OBias,
    GateWeight,
    GateBias,
    UpWeight,
    UpBias,
    DownWeight,
    DownBias,
};
/// Every role, in the order models hold and checkpoints write them.
const std::vector<LayerTensor>& allLayerTensors();

enum class GlobalTensor { Embedding, FinalNormWeight, FinalNormBias, LmHeadWeight, LmHeadBias };
const std::vector<GlobalTensor>& allGlobalTensors();

struct FamilyTensorNames {
    std::string embedding = "model.embed_tokens";
    std::string finalNorm = "model.norm";
    std::string lmHead = "lm_head";
    // per layer, after "model.layers.N."
    std::string inputNorm = "input_layernorm";
    std::string postNorm = "post_attention_layernorm";
    std::string q = "self_attn.q_proj", k = "self_attn.k_proj", v = "self_attn.v_proj",
                o = "self_attn.o_proj";
    std::string gate = "mlp.gate_proj", up = "mlp.up_proj", down = "mlp.down_proj";
};

struct FamilyTraits {
    std::string id;            ///< the CLI's name: "llama", "qwen2", ...
    std::string architecture;  ///< config.json architectures[0]
    std::string modelType;     ///< config.json model_type
    FamilyTensorNames names;
    NormKind norm = NormKind::Rms;
    MlpLayout mlp = MlpLayout::Gated;
    bool scalesEmbeddings = false;  ///< embeddings times sqrt(hidden), rounded to the model dtype
    std::string epsField;           ///< config field of the norm epsilon; empty: fixed
    double defaultEps = 1e-6;       ///< its Hugging Face default (OLMo: the fixed value)
    // Hugging Face config-class defaults for fields a config.json may omit.
    std::string defaultHiddenAct = "silu";
    bool tiedByDefault = false;         ///< tie_word_embeddings (Gemma: true)
    double defaultPartialRotary = 1.0;  ///< partial_rotary_factor (Phi 0.5, StableLM 0.25)
};

/// The supported families, Llama first.
const std::vector<FamilyTraits>& modelFamilies();
/// The family of `id` ("llama", ...), of an architecture name or of a model_type; nullptr if none.
const FamilyTraits* familyById(const std::string& id);
const FamilyTraits* familyByArchitecture(const std::string& architecture);
const FamilyTraits* familyByModelType(const std::string& modelType);
/// "llama, qwen2, gemma, phi, stablelm, olmo, mistral" (for messages and --help).
std::string familyIdList();

/// Whether a checkpoint of this config stores the tensor.
bool storesTensor(const ModelConfig& config, LayerTensor tensor);
bool storesTensor(const ModelConfig& config, GlobalTensor tensor);
/// Hugging Face names: "model.layers.3.self_attn.k_proj.bias", "lm_head.weight".
std::string tensorName(const ModelConfig& config, std::int64_t layer, LayerTensor tensor);
std::string tensorName(const ModelConfig& config, GlobalTensor tensor);
/// "model.layers.N." + suffix, for names outside the family table (training-only tensors).
std::string layerTensorName(std::int64_t layer, const std::string& suffix);
/// The stored shape of a tensor under this config (KV rows follow numKvHeads).
std::vector<std::int64_t> tensorShape(const ModelConfig& config, LayerTensor tensor);
std::vector<std::int64_t> tensorShape(const ModelConfig& config, GlobalTensor tensor);

/// The names and shapes a checkpoint of this config must contain, in writing order.
std::vector<std::pair<std::string, std::vector<std::int64_t>>> expectedTensors(
    const ModelConfig& config);

/// The short role name used by the training scope ("q_proj", "input_layernorm", ...).
std::string roleName(LayerTensor tensor);
bool isBias(LayerTensor tensor);

}  // namespace gqa
