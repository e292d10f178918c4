// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/modelconfig.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/error.h"
#include "io/jsonintegers.h"

namespace gqa {
namespace {
using Json = nlohmann::json;

// Defaults of transformers' config classes (the same in every supported family), used when
// config.json omits a field; the norm epsilon's default is the family's (modelfamily.h).
constexpr double kDefaultRopeTheta = 10000.0;
constexpr std::int64_t kDefaultMaxPositions = 2048;

// Limits far above any real checkpoint (Llama 3.1 405B: 126 layers, 128 heads, 4e11 parameters)
// so that what is derived from an accepted config (the tensor list, parameter and KV-cache counts,
// the valid KV head counts) neither runs for hours nor overflows int64.
constexpr std::int64_t kMaxLayers = std::int64_t(1) << 16;
constexpr std::int64_t kMaxHeads = std::int64_t(1) << 16;
constexpr std::int64_t kMaxDimension = std::int64_t(1) << 31;  // vocab, hidden, MLP, head dim
constexpr std::int64_t kMaxParameters = std::int64_t(1) << 50;

[[noreturn]] void refuse(const std::string& origin, const std::string& field,
                         const std::string& why) {
    throw InputError(origin + ": field '" + field + "' " + why);
}

std::int64_t requireInt(const Json& j, const std::string& origin, const std::string& field) {
    if (!j.contains(field)) refuse(origin, field, "is missing");
    if (!j[field].is_number_integer()) refuse(origin, field, "must be an integer");
    if (const auto value = int64FromJson(j[field])) return *value;
    refuse(origin, field, "is too large");  // would wrap to a negative int64
}

std::optional<std::int64_t> optionalTokenId(const Json& j, const std::string& origin,
                                            const std::string& field) {
    if (!j.contains(field) || j[field].is_null()) return std::nullopt;
    const Json& v = j[field];
    if (const auto id = int64FromJson(v)) return *id;
    // Some checkpoints list several eos ids; the first one is the primary.
    if (v.is_array() && !v.empty())
        if (const auto id = int64FromJson(v[0])) return *id;
    refuse(origin, field, "must be an integer token id");
}

double optionalNumber(const Json& j, const std::string& origin, const std::string& field,
                      double fallback) {
    if (!j.contains(field) || j[field].is_null()) return fallback;
    if (!j[field].is_number()) refuse(origin, field, "must be a number");
    return j[field].get<double>();
}

bool optionalBool(const Json& j, const std::string& origin, const std::string& field,
                  bool fallback) {
    if (!j.contains(field) || j[field].is_null()) return fallback;
    if (!j[field].is_boolean()) refuse(origin, field, "must be true or false");
    return j[field].get<bool>();
}

/// The family named by architectures[0] and model_type, which must agree when both are given.
const FamilyTraits& familyOf(const Json& j, const std::string& origin) {
    const FamilyTraits* byArchitecture = nullptr;
    if (j.contains("architectures")) {
        const Json& a = j["architectures"];
        if (!a.is_array() || a.size() != 1 || !a[0].is_string())
            refuse(origin, "architectures", "is " + a.dump() + "; expected one architecture name");
        byArchitecture = familyByArchitecture(a[0].get<std::string>());
        if (!byArchitecture) {
            std::string supported;
            for (const FamilyTraits& f : modelFamilies())
                supported += (supported.empty() ? "" : ", ") + f.architecture;
            refuse(origin, "architectures",
                   "is " + a.dump() + "; supported architectures: " + supported);
        }
    }
    const FamilyTraits* byType = nullptr;
    if (j.contains("model_type")) {
        if (!j["model_type"].is_string()) refuse(origin, "model_type", "must be a string");
        byType = familyByModelType(j["model_type"].get<std::string>());
        if (!byType)
            refuse(origin, "model_type",
                   "is " + j["model_type"].dump() + "; supported model types: " + familyIdList());
    }
    if (!byArchitecture && !byType)
        refuse(origin, "model_type", "is missing; cannot tell which model family this is");
    if (byArchitecture && byType && byArchitecture != byType)
        refuse(origin, "model_type",
               "is " + j["model_type"].dump() + " but architectures names " +
                   byArchitecture->architecture);
    return byArchitecture ? *byArchitecture : *byType;
}

Activation activationNamed(const std::string& name, const std::string& origin,
                           const std::string& field) {
    if (name == "silu" || name == "swish") return Activation::Silu;
    if (name == "gelu_new" || name == "gelu_pytorch_tanh") return Activation::GeluTanh;
    if (name == "gelu") return Activation::GeluErf;
    refuse(origin, field,
           "is '" + name + "'; supported activations: silu, gelu, gelu_new, gelu_pytorch_tanh");
}

const char* activationName(Activation a) {
    switch (a) {
        case Activation::Silu:
            return "silu";
        case Activation::GeluTanh:
            return "gelu_pytorch_tanh";
        case Activation::GeluErf:
            return "gelu";
    }
    return "silu";
}

void refuseIfTrue(const Json& j, const std::string& origin, const char* field, const char* why) {
    if (optionalBool(j, origin, field, false))
        refuse(origin, field, std::string("is true; ") + why);
}

constexpr const char* kBreaksAlignment =
    "it changes keys or queries per head in a way the function-preserving alignment cannot "
    "carry (docs/model-families.md)";

/// The fields one family adds to the common ones: read (honoured) or refused by name, and
/// written back. Families whose configs have no such field leave the function empty.
struct FamilyFields {
    const char* id;
    void (*read)(const Json&, const std::string& origin, ModelConfig&);
    void (*write)(Json&, const ModelConfig&);
};

void readLlamaBiases(const Json& j, const std::string& origin, ModelConfig& c) {
    c.qkvBias = c.outputBias = optionalBool(j, origin, "attention_bias", false);
    c.mlpBias = optionalBool(j, origin, "mlp_bias", false);
}

void readPartialRotary(const Json& j, const std::string& origin, ModelConfig& c) {
    c.partialRotaryFactor =
        optionalNumber(j, origin, "partial_rotary_factor", c.traits().defaultPartialRotary);
    if (!(c.partialRotaryFactor > 0.0 && c.partialRotaryFactor <= 1.0))
        refuse(origin, "partial_rotary_factor", "must be in (0, 1]");
}

const std::vector<FamilyFields>& familyFields() {
    static const std::vector<FamilyFields> kFields{
        {"llama", readLlamaBiases,
         [](Json& j, const ModelConfig& c) {
             j["attention_bias"] = c.qkvBias;
             j["mlp_bias"] = c.mlpBias;
         }},
        {"qwen2",
         [](const Json& j, const std::string& origin, ModelConfig& c) {
             c.qkvBias = true;  // Qwen2Attention: q, k, v with bias, o without
             refuseIfTrue(j, origin, "use_sliding_window",
                          "sliding-window attention on a subset of Qwen2 layers is not supported");
         },
         [](Json& j, const ModelConfig&) { j["use_sliding_window"] = false; }},
        {"gemma",
         [](const Json& j, const std::string& origin, ModelConfig& c) {
             c.qkvBias = c.outputBias = optionalBool(j, origin, "attention_bias", false);
         },
         [](Json& j, const ModelConfig& c) { j["attention_bias"] = c.qkvBias; }},
        {"phi",
         [](const Json& j, const std::string& origin, ModelConfig& c) {
             c.qkvBias = c.outputBias = c.mlpBias = c.lmHeadBias = true;
             c.parallelResidual = true;
             refuseIfTrue(j, origin, "qk_layernorm", kBreaksAlignment);
             readPartialRotary(j, origin, c);
         },
         [](Json& j, const ModelConfig& c) {
             j["partial_rotary_factor"] = c.partialRotaryFactor;
             j["qk_layernorm"] = false;
         }},
        {"stablelm",
         [](const Json& j, const std::string& origin, ModelConfig& c) {
             c.qkvBias = optionalBool(j, origin, "use_qkv_bias", false);
             c.parallelResidual = optionalBool(j, origin, "use_parallel_residual", false);
             refuseIfTrue(j, origin, "qk_layernorm", kBreaksAlignment);
             readPartialRotary(j, origin, c);
         },
         [](Json& j, const ModelConfig& c) {
             j["use_qkv_bias"] = c.qkvBias;
             j["use_parallel_residual"] = c.parallelResidual;
             j["partial_rotary_factor"] = c.partialRotaryFactor;
             j["qk_layernorm"] = false;
         }},
        {"olmo",
         [](const Json& j, const std::string& origin, ModelConfig& c) {
             c.qkvBias = c.outputBias = optionalBool(j, origin, "attention_bias", false);
             if (j.contains("clip_qkv") && !j["clip_qkv"].is_null())
                 refuse(origin, "clip_qkv",
                        "is set; clipping q, k and v elementwise does not commute with the "
                        "alignment's rotations of heads");
         },
         [](Json& j, const ModelConfig& c) {
             j["attention_bias"] = c.qkvBias;
             if (!j.contains("clip_qkv")) j["clip_qkv"] = nullptr;
         }},
        {"mistral",
         [](const Json& j, const std::string& origin, ModelConfig& c) {
             if (j.contains("sliding_window") && !j["sliding_window"].is_null()) {
                 const std::int64_t w = requireInt(j, origin, "sliding_window");
                 if (w <= 0) refuse(origin, "sliding_window", "must be positive or null");
                 c.slidingWindow = w;
             }
         },
         [](Json& j, const ModelConfig& c) {
             if (c.slidingWindow > 0)
                 j["sliding_window"] = c.slidingWindow;
             else
                 j["sliding_window"] = nullptr;
         }},
    };
    return kFields;
}

const FamilyFields& fieldsOf(const std::string& id) {
    for (const FamilyFields& f : familyFields())
        if (id == f.id) return f;
    throw Error("model family '" + id + "' has no config reader");
}

/// The weights of a config of validated size limits, or nullopt when the count overflows int64.
/// Each layer has the same tensors, so one layer is counted and multiplied.
std::optional<std::int64_t> checkedParameterCount(const ModelConfig& c) {
    auto addNumel = [](std::int64_t& total, const std::vector<std::int64_t>& shape) {
        std::int64_t n = 1;
        for (std::int64_t d : shape)
            if (__builtin_mul_overflow(n, d, &n)) return false;
        return !__builtin_add_overflow(total, n, &total);
    };
    std::int64_t perLayer = 0, total = 0;
    for (LayerTensor t : allLayerTensors())
        if (storesTensor(c, t) && !addNumel(perLayer, tensorShape(c, t))) return std::nullopt;
    if (__builtin_mul_overflow(perLayer, c.numLayers, &total)) return std::nullopt;
    for (GlobalTensor t : allGlobalTensors())
        if (storesTensor(c, t) && !addNumel(total, tensorShape(c, t))) return std::nullopt;
    return total;
}

double linearRopeFactor(const Json& j, const std::string& origin) {
    if (!j.contains("rope_scaling") || j["rope_scaling"].is_null()) return 1.0;
    const Json& s = j["rope_scaling"];
    if (!s.is_object()) refuse(origin, "rope_scaling", "must be an object or null");
    std::string type = s.value("rope_type", s.value("type", std::string()));
    if (type == "default") return 1.0;
    if (type != "linear")
        refuse(origin, "rope_scaling",
               "has type '" + type + "'; only 'linear' rope scaling is supported");
    if (!s.contains("factor") || !s["factor"].is_number() || s["factor"].get<double>() <= 0)
        refuse(origin, "rope_scaling.factor", "must be a positive number");
    return s["factor"].get<double>();
}
}  // namespace

std::int64_t ModelConfig::parameterCount() const {
    std::int64_t total = 0;
    for (const auto& [name, shape] : expectedTensors(*this)) {
        std::int64_t n = 1;
        for (std::int64_t d : shape) n *= d;
        total += n;
    }
    return total;
}

std::uint64_t ModelConfig::kvCacheBytesPerToken(std::int64_t kvHeads,
                                                std::size_t elementBytes) const {
    return 2ull * static_cast<std::uint64_t>(numLayers * kvHeads * headDim) * elementBytes;
}

std::vector<std::int64_t> ModelConfig::validKvHeadCounts() const {
    std::vector<std::int64_t> counts;
    for (std::int64_t g = 1; g <= numHeads; ++g)
        if (numHeads % g == 0) counts.push_back(g);
    return counts;
}

const FamilyTraits& ModelConfig::traits() const {
    const FamilyTraits* t = familyById(family);
    if (!t)
        throw InputError("unknown model family '" + family + "' (supported: " + familyIdList() +
                         ")");
    return *t;
}

NormKind ModelConfig::norm() const { return traits().norm; }
bool ModelConfig::scaleEmbeddings() const { return traits().scalesEmbeddings; }

void ModelConfig::validate() const {
    const std::string origin = "config.json";
    auto positive = [&](std::int64_t v, const char* field) {
        if (v <= 0) refuse(origin, field, "must be positive (is " + std::to_string(v) + ")");
    };
    positive(vocabSize, "vocab_size");
    positive(hiddenSize, "hidden_size");
    positive(intermediateSize, "intermediate_size");
    positive(numLayers, "num_hidden_layers");
    positive(numHeads, "num_attention_heads");
    positive(numKvHeads, "num_key_value_heads");
    positive(headDim, "head_dim");
    positive(maxPositionEmbeddings, "max_position_embeddings");
    auto atMost = [&](std::int64_t v, std::int64_t limit, const char* field) {
        if (v > limit)
            refuse(origin, field,
                   "(" + std::to_string(v) + ") is over the limit of " + std::to_string(limit));
    };
    atMost(numLayers, kMaxLayers, "num_hidden_layers");
    atMost(numHeads, kMaxHeads, "num_attention_heads");
    atMost(vocabSize, kMaxDimension, "vocab_size");
    atMost(hiddenSize, kMaxDimension, "hidden_size");
    atMost(intermediateSize, kMaxDimension, "intermediate_size");
    atMost(headDim, kMaxDimension, "head_dim");
    if (numHeads % numKvHeads != 0)
        refuse(origin, "num_key_value_heads",
               "(" + std::to_string(numKvHeads) + ") must divide num_attention_heads (" +
                   std::to_string(numHeads) + ")");
    traits();
    // With the limits above every tensor dimension fits in int64; their products may not.
    const std::optional<std::int64_t> parameters = checkedParameterCount(*this);
    if (!parameters || *parameters > kMaxParameters)
        throw InputError(origin + ": vocab_size, hidden_size, intermediate_size, head_dim and " +
                         "the layer and head counts give " +
                         (parameters ? std::to_string(*parameters) : "more than 2^63") +
                         " parameters, over the limit of " + std::to_string(kMaxParameters));
    if (rotaryDims() <= 0 || rotaryDims() > headDim || rotaryDims() % 2 != 0)
        refuse(origin, "partial_rotary_factor",
               "gives " + std::to_string(rotaryDims()) + " rotary dimensions of " +
                   std::to_string(headDim) + "; they must be even and between 2 and head_dim");
    if (normEps <= 0)
        refuse(origin, traits().epsField.empty() ? "norm epsilon" : traits().epsField,
               "must be positive");
    if (slidingWindow < 0) refuse(origin, "sliding_window", "must be positive or null");
    if (ropeTheta <= 0) refuse(origin, "rope_theta", "must be positive");
    for (auto [id, field] : {std::pair{bosTokenId, "bos_token_id"}, {eosTokenId, "eos_token_id"}})
        if (id && (*id < 0 || *id >= vocabSize))
            refuse(origin, field, "(" + std::to_string(*id) + ") is outside the vocabulary");
}

ModelConfig ModelConfig::fromJson(const std::string& jsonText, const std::string& origin) {
    Json j;
    try {
        j = Json::parse(jsonText);
    } catch (const Json::exception& e) {  // parse_error, and out_of_range for numbers like 1e999
        throw InputError(origin + ": malformed JSON: " + e.what());
    }
    if (!j.is_object()) throw InputError(origin + ": expected a JSON object");
    const FamilyTraits& family = familyOf(j, origin);

    ModelConfig c;
    c.family = family.id;
    c.vocabSize = requireInt(j, origin, "vocab_size");
    c.hiddenSize = requireInt(j, origin, "hidden_size");
    c.intermediateSize = requireInt(j, origin, "intermediate_size");
    c.numLayers = requireInt(j, origin, "num_hidden_layers");
    c.numHeads = requireInt(j, origin, "num_attention_heads");
    c.numKvHeads = (j.contains("num_key_value_heads") && !j["num_key_value_heads"].is_null())
                       ? requireInt(j, origin, "num_key_value_heads")
                       : c.numHeads;
    if (j.contains("head_dim") && !j["head_dim"].is_null()) {
        c.headDim = requireInt(j, origin, "head_dim");
    } else {
        if (c.numHeads <= 0 || c.hiddenSize % c.numHeads != 0)
            refuse(origin, "hidden_size", "must be divisible by num_attention_heads");
        c.headDim = c.hiddenSize / c.numHeads;
    }
    c.normEps = family.epsField.empty()
                    ? family.defaultEps
                    : optionalNumber(j, origin, family.epsField, family.defaultEps);
    // Current Hugging Face reads hidden_act only; older Gemma code preferred hidden_activation.
    // Where the two disagree the checkpoint's meaning depends on the version: refuse.
    std::string act = family.defaultHiddenAct;
    if (j.contains("hidden_act") && !j["hidden_act"].is_null()) {
        if (!j["hidden_act"].is_string()) refuse(origin, "hidden_act", "must be a string");
        act = j["hidden_act"].get<std::string>();
    }
    c.activation = activationNamed(act, origin, "hidden_act");
    if (j.contains("hidden_activation") && !j["hidden_activation"].is_null()) {
        if (!j["hidden_activation"].is_string() ||
            activationNamed(j["hidden_activation"].get<std::string>(), origin,
                            "hidden_activation") != c.activation)
            refuse(origin, "hidden_activation",
                   "is " + j["hidden_activation"].dump() + " but hidden_act is '" + act +
                       "'; Hugging Face versions differ on which one applies");
    }
    c.ropeTheta = optionalNumber(j, origin, "rope_theta", kDefaultRopeTheta);
    c.ropeLinearFactor = linearRopeFactor(j, origin);
    c.maxPositionEmbeddings = j.contains("max_position_embeddings")
                                  ? requireInt(j, origin, "max_position_embeddings")
                                  : kDefaultMaxPositions;
    c.tieWordEmbeddings = optionalBool(j, origin, "tie_word_embeddings", family.tiedByDefault);
    c.bosTokenId = optionalTokenId(j, origin, "bos_token_id");
    c.eosTokenId = optionalTokenId(j, origin, "eos_token_id");
    if (j.contains("torch_dtype") && !j["torch_dtype"].is_null()) {
        auto t = j["torch_dtype"].is_string()
                     ? dtypeFromTorchName(j["torch_dtype"].get<std::string>())
                     : std::nullopt;
        if (!t)
            refuse(origin, "torch_dtype",
                   "is " + j["torch_dtype"].dump() +
                       "; expected "
                       "float32, float16, bfloat16 or float64");
        c.dtype = *t;
    }
    fieldsOf(family.id).read(j, origin, c);
    c.sourceJson = jsonText;
    try {
        c.validate();
    } catch (const InputError& e) {
        std::string message = e.what();
        throw InputError(origin + message.substr(message.find(':')));
    }
    return c;
}

ModelConfig ModelConfig::fromFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open (no such file or not readable)");
    std::ostringstream text;
    text << in.rdbuf();
    return fromJson(text.str(), path);
}

std::string ModelConfig::familySummary() const {
    static const char* kNorms[] = {"RMSNorm", "RMSNorm (1 + w)", "LayerNorm",
                                   "LayerNorm without parameters"};
    std::vector<std::string> parts{kNorms[static_cast<int>(norm())]};
    parts.push_back(parallelResidual ? "parallel attention and MLP"
                                     : "sequential attention and MLP");
    parts.push_back(std::string(traits().mlp == MlpLayout::Gated ? "gated " : "") +
                    activationName(activation) + " MLP");
    if (rotaryDims() < headDim)
        parts.push_back("RoPE on " + std::to_string(rotaryDims()) + " of " +
                        std::to_string(headDim) + " dims");
    std::string biases;
    auto bias = [&](bool on, const char* what) {
        if (on) biases += (biases.empty() ? "" : ", ") + std::string(what);
    };
    bias(qkvBias, "q/k/v");
    bias(outputBias, "o");
    bias(mlpBias, "MLP");
    bias(lmHeadBias, "LM head");
    if (!biases.empty()) parts.push_back("biases on " + biases);
    if (scaleEmbeddings()) parts.push_back("embeddings scaled by sqrt(hidden)");
    if (slidingWindow > 0) parts.push_back("sliding window " + std::to_string(slidingWindow));
    std::string out = traits().architecture + ":";
    for (std::size_t i = 0; i < parts.size(); ++i) out += (i ? ", " : " ") + parts[i];
    return out;
}

ModelConfig ModelConfig::ofFamily(const std::string& familyId, const ModelConfig& shape,
                                  const std::string& familyFieldsJson) {
    const FamilyTraits* family = familyById(familyId);
    if (!family)
        throw InputError("unknown model family '" + familyId + "' (supported: " + familyIdList() +
                         ")");
    Json j = {{"architectures", Json::array({family->architecture})},
              {"model_type", family->modelType},
              {"vocab_size", shape.vocabSize},
              {"hidden_size", shape.hiddenSize},
              {"intermediate_size", shape.intermediateSize},
              {"num_hidden_layers", shape.numLayers},
              {"num_attention_heads", shape.numHeads},
              {"num_key_value_heads", shape.numKvHeads},
              {"head_dim", shape.headDim},
              {"rope_theta", shape.ropeTheta},
              {"max_position_embeddings", shape.maxPositionEmbeddings},
              {"tie_word_embeddings", shape.tieWordEmbeddings},
              {"torch_dtype", torchDtypeName(shape.dtype)}};
    if (shape.bosTokenId) j["bos_token_id"] = *shape.bosTokenId;
    if (shape.eosTokenId) j["eos_token_id"] = *shape.eosTokenId;
    if (!family->epsField.empty()) j[family->epsField] = shape.normEps;
    Json extra;
    try {
        extra = Json::parse(familyFieldsJson);
    } catch (const Json::exception& e) {
        throw InputError(std::string("family fields: malformed JSON: ") + e.what());
    }
    if (!extra.is_object()) throw InputError("family fields: expected a JSON object");
    j.update(extra);
    ModelConfig c = fromJson(j.dump(), "config of family " + familyId);
    c.sourceJson.clear();
    return c;
}

std::string ModelConfig::toJson() const {
    Json j = sourceJson.empty() ? Json::object() : Json::parse(sourceJson);
    const FamilyTraits& family = traits();
    j["architectures"] = Json::array({family.architecture});
    j["model_type"] = family.modelType;
    j["vocab_size"] = vocabSize;
    j["hidden_size"] = hiddenSize;
    j["intermediate_size"] = intermediateSize;
    j["num_hidden_layers"] = numLayers;
    j["num_attention_heads"] = numHeads;
    j["num_key_value_heads"] = numKvHeads;
    if (j.contains("head_dim") || headDim * numHeads != hiddenSize) j["head_dim"] = headDim;
    if (!family.epsField.empty()) j[family.epsField] = normEps;
    j["rope_theta"] = ropeTheta;
    if (ropeLinearFactor != 1.0)
        j["rope_scaling"] = {{"type", "linear"}, {"factor", ropeLinearFactor}};
    j["max_position_embeddings"] = maxPositionEmbeddings;
    j["tie_word_embeddings"] = tieWordEmbeddings;
    if (!j.contains("hidden_act") || !j["hidden_act"].is_string() ||
        activationNamed(j["hidden_act"].get<std::string>(), "config.json", "hidden_act") !=
            activation)
        j["hidden_act"] = activationName(activation);
    fieldsOf(family.id).write(j, *this);
    if (bosTokenId) j["bos_token_id"] = *bosTokenId;
    if (eosTokenId) j["eos_token_id"] = *eosTokenId;
    j["torch_dtype"] = torchDtypeName(dtype);
    return j.dump(2) + "\n";
}

}  // namespace gqa
