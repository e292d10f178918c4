// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/modelconfig.h"

#include <fstream>
#include <sstream>

#include <nlohmann/json.hpp>

#include "base/error.h"

namespace gqa {
namespace {
using Json = nlohmann::json;

// Defaults of transformers' LlamaConfig, used when config.json omits a field.
constexpr double kDefaultRmsNormEps = 1e-6;
constexpr double kDefaultRopeTheta = 10000.0;
constexpr std::int64_t kDefaultMaxPositions = 2048;

[[noreturn]] void refuse(const std::string& origin, const std::string& field,
                         const std::string& why) {
    throw InputError(origin + ": field '" + field + "' " + why);
}

std::int64_t requireInt(const Json& j, const std::string& origin, const std::string& field) {
    if (!j.contains(field)) refuse(origin, field, "is missing");
    if (!j[field].is_number_integer()) refuse(origin, field, "must be an integer");
    return j[field].get<std::int64_t>();
}

std::optional<std::int64_t> optionalTokenId(const Json& j, const std::string& origin,
                                            const std::string& field) {
    if (!j.contains(field) || j[field].is_null()) return std::nullopt;
    const Json& v = j[field];
    if (v.is_number_integer()) return v.get<std::int64_t>();
    // Some checkpoints list several eos ids; the first one is the primary.
    if (v.is_array() && !v.empty() && v[0].is_number_integer()) return v[0].get<std::int64_t>();
    refuse(origin, field, "must be an integer token id");
}

double optionalNumber(const Json& j, const std::string& origin, const std::string& field,
                      double fallback) {
    if (!j.contains(field) || j[field].is_null()) return fallback;
    if (!j[field].is_number()) refuse(origin, field, "must be a number");
    return j[field].get<double>();
}

void checkArchitecture(const Json& j, const std::string& origin) {
    if (j.contains("model_type") && j["model_type"] != "llama")
        refuse(origin, "model_type",
               "is '" + j["model_type"].dump() +
                   "'; only Llama-architecture models ('llama') are "
                   "supported");
    if (j.contains("architectures")) {
        const Json& a = j["architectures"];
        if (!a.is_array() || a.size() != 1 || a[0] != "LlamaForCausalLM")
            refuse(origin, "architectures",
                   "is " + a.dump() + "; only [\"LlamaForCausalLM\"] is supported");
    }
    if (!j.contains("model_type") && !j.contains("architectures"))
        refuse(origin, "model_type", "is missing; cannot tell that this is a Llama model");
    for (const char* biasField : {"attention_bias", "mlp_bias"})
        if (j.contains(biasField) && j[biasField].is_boolean() && j[biasField].get<bool>())
            refuse(origin, biasField, "is true; biased projections are not supported");
    if (j.contains("hidden_act") && j["hidden_act"] != "silu")
        refuse(origin, "hidden_act", "is " + j["hidden_act"].dump() + "; only 'silu' is supported");
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
    const std::int64_t attention = hiddenSize * qDim() * 2 + hiddenSize * kvDim() * 2;
    const std::int64_t mlp = 3 * hiddenSize * intermediateSize;
    const std::int64_t norms = 2 * hiddenSize;
    std::int64_t total =
        vocabSize * hiddenSize + numLayers * (attention + mlp + norms) + hiddenSize;
    if (!tieWordEmbeddings) total += vocabSize * hiddenSize;
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
    if (numHeads % numKvHeads != 0)
        refuse(origin, "num_key_value_heads",
               "(" + std::to_string(numKvHeads) + ") must divide num_attention_heads (" +
                   std::to_string(numHeads) + ")");
    if (headDim % 2 != 0) refuse(origin, "head_dim", "must be even for rotary embeddings");
    if (rmsNormEps <= 0) refuse(origin, "rms_norm_eps", "must be positive");
    if (ropeTheta <= 0) refuse(origin, "rope_theta", "must be positive");
    for (auto [id, field] : {std::pair{bosTokenId, "bos_token_id"}, {eosTokenId, "eos_token_id"}})
        if (id && (*id < 0 || *id >= vocabSize))
            refuse(origin, field, "(" + std::to_string(*id) + ") is outside the vocabulary");
}

ModelConfig ModelConfig::fromJson(const std::string& jsonText, const std::string& origin) {
    Json j;
    try {
        j = Json::parse(jsonText);
    } catch (const Json::parse_error& e) {
        throw InputError(origin + ": malformed JSON: " + e.what());
    }
    if (!j.is_object()) throw InputError(origin + ": expected a JSON object");
    checkArchitecture(j, origin);

    ModelConfig c;
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
    c.rmsNormEps = optionalNumber(j, origin, "rms_norm_eps", kDefaultRmsNormEps);
    c.ropeTheta = optionalNumber(j, origin, "rope_theta", kDefaultRopeTheta);
    c.ropeLinearFactor = linearRopeFactor(j, origin);
    c.maxPositionEmbeddings = j.contains("max_position_embeddings")
                                  ? requireInt(j, origin, "max_position_embeddings")
                                  : kDefaultMaxPositions;
    if (j.contains("tie_word_embeddings")) {
        if (!j["tie_word_embeddings"].is_boolean())
            refuse(origin, "tie_word_embeddings", "must be true or false");
        c.tieWordEmbeddings = j["tie_word_embeddings"].get<bool>();
    }
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

std::string ModelConfig::toJson() const {
    Json j = sourceJson.empty() ? Json::object() : Json::parse(sourceJson);
    j["architectures"] = Json::array({"LlamaForCausalLM"});
    j["model_type"] = "llama";
    j["vocab_size"] = vocabSize;
    j["hidden_size"] = hiddenSize;
    j["intermediate_size"] = intermediateSize;
    j["num_hidden_layers"] = numLayers;
    j["num_attention_heads"] = numHeads;
    j["num_key_value_heads"] = numKvHeads;
    if (j.contains("head_dim") || headDim * numHeads != hiddenSize) j["head_dim"] = headDim;
    j["rms_norm_eps"] = rmsNormEps;
    j["rope_theta"] = ropeTheta;
    if (ropeLinearFactor != 1.0)
        j["rope_scaling"] = {{"type", "linear"}, {"factor", ropeLinearFactor}};
    j["max_position_embeddings"] = maxPositionEmbeddings;
    j["tie_word_embeddings"] = tieWordEmbeddings;
    j["hidden_act"] = "silu";
    if (bosTokenId) j["bos_token_id"] = *bosTokenId;
    if (eosTokenId) j["eos_token_id"] = *eosTokenId;
    j["torch_dtype"] = torchDtypeName(dtype);
    return j.dump(2) + "\n";
}

}  // namespace gqa
