// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/modelfamily.h"

#include "base/error.h"
#include "io/modelconfig.h"

namespace gqa {
namespace {

FamilyTraits llamaLike(std::string id, std::string architecture, std::string modelType) {
    FamilyTraits t;
    t.id = std::move(id);
    t.architecture = std::move(architecture);
    t.modelType = std::move(modelType);
    t.epsField = "rms_norm_eps";
    t.defaultEps = 1e-6;  // LlamaConfig, Qwen2Config, MistralConfig, GemmaConfig
    return t;
}

std::vector<FamilyTraits> buildFamilies() {
    std::vector<FamilyTraits> f;
    f.push_back(llamaLike("llama", "LlamaForCausalLM", "llama"));
    f.push_back(llamaLike("qwen2", "Qwen2ForCausalLM", "qwen2"));

    FamilyTraits gemma = llamaLike("gemma", "GemmaForCausalLM", "gemma");
    gemma.norm = NormKind::RmsUnitOffset;
    gemma.scalesEmbeddings = true;
    gemma.defaultHiddenAct = "gelu_pytorch_tanh";
    gemma.tiedByDefault = true;
    f.push_back(gemma);

    FamilyTraits phi = llamaLike("phi", "PhiForCausalLM", "phi");
    phi.norm = NormKind::LayerNorm;
    phi.mlp = MlpLayout::Plain;
    phi.epsField = "layer_norm_eps";
    phi.defaultEps = 1e-5;  // PhiConfig
    phi.names.finalNorm = "model.final_layernorm";
    phi.names.postNorm = "";
    phi.names.o = "self_attn.dense";
    phi.names.gate = "";
    phi.names.up = "mlp.fc1";
    phi.names.down = "mlp.fc2";
    phi.defaultHiddenAct = "gelu_new";
    phi.defaultPartialRotary = 0.5;
    f.push_back(phi);

    FamilyTraits stablelm = llamaLike("stablelm", "StableLmForCausalLM", "stablelm");
    stablelm.norm = NormKind::LayerNorm;
    stablelm.epsField = "layer_norm_eps";
    stablelm.defaultEps = 1e-5;  // StableLmConfig
    stablelm.defaultPartialRotary = 0.25;
    f.push_back(stablelm);

    FamilyTraits olmo = llamaLike("olmo", "OlmoForCausalLM", "olmo");
    olmo.norm = NormKind::LayerNormPlain;
    olmo.epsField = "";
    olmo.defaultEps = 1e-5;  // OlmoLayerNorm's fixed epsilon
    f.push_back(olmo);

    f.push_back(llamaLike("mistral", "MistralForCausalLM", "mistral"));
    return f;
}

bool normHasWeight(NormKind k) { return k != NormKind::LayerNormPlain; }
bool normHasBias(NormKind k) { return k == NormKind::LayerNorm; }

/// The family's name of a role's module (without ".weight"/".bias"); empty when not stored.
const std::string& moduleName(const FamilyTensorNames& n, LayerTensor t) {
    switch (t) {
        case LayerTensor::InputNormWeight:
        case LayerTensor::InputNormBias:
            return n.inputNorm;
        case LayerTensor::PostNormWeight:
        case LayerTensor::PostNormBias:
            return n.postNorm;
        case LayerTensor::QWeight:
        case LayerTensor::QBias:
            return n.q;
        case LayerTensor::KWeight:
        case LayerTensor::KBias:
            return n.k;
        case LayerTensor::VWeight:
        case LayerTensor::VBias:
            return n.v;
        case LayerTensor::OWeight:
        case LayerTensor::OBias:
            return n.o;
        case LayerTensor::GateWeight:
        case LayerTensor::GateBias:
            return n.gate;
        case LayerTensor::UpWeight:
        case LayerTensor::UpBias:
            return n.up;
        case LayerTensor::DownWeight:
        case LayerTensor::DownBias:
            return n.down;
    }
    throw Error("unknown layer tensor");
}
}  // namespace

const std::vector<LayerTensor>& allLayerTensors() {
    static const std::vector<LayerTensor> kAll{
        LayerTensor::InputNormWeight, LayerTensor::InputNormBias,  LayerTensor::QWeight,
        LayerTensor::QBias,           LayerTensor::KWeight,        LayerTensor::KBias,
        LayerTensor::VWeight,         LayerTensor::VBias,          LayerTensor::OWeight,
        LayerTensor::OBias,           LayerTensor::PostNormWeight, LayerTensor::PostNormBias,
        LayerTensor::GateWeight,      LayerTensor::GateBias,       LayerTensor::UpWeight,
        LayerTensor::UpBias,          LayerTensor::DownWeight,     LayerTensor::DownBias};
    return kAll;
}

const std::vector<GlobalTensor>& allGlobalTensors() {
    static const std::vector<GlobalTensor> kAll{
        GlobalTensor::Embedding, GlobalTensor::FinalNormWeight, GlobalTensor::FinalNormBias,
        GlobalTensor::LmHeadWeight, GlobalTensor::LmHeadBias};
    return kAll;
}

const std::vector<FamilyTraits>& modelFamilies() {
    static const std::vector<FamilyTraits> kFamilies = buildFamilies();
    return kFamilies;
}

const FamilyTraits* familyById(const std::string& id) {
    for (const FamilyTraits& f : modelFamilies())
        if (f.id == id) return &f;
    return nullptr;
}
const FamilyTraits* familyByArchitecture(const std::string& architecture) {
    for (const FamilyTraits& f : modelFamilies())
        if (f.architecture == architecture) return &f;
    return nullptr;
}
const FamilyTraits* familyByModelType(const std::string& modelType) {
    for (const FamilyTraits& f : modelFamilies())
        if (f.modelType == modelType) return &f;
    return nullptr;
}

std::string familyIdList() {
    std::string out;
    for (const FamilyTraits& f : modelFamilies()) out += (out.empty() ? "" : ", ") + f.id;
    return out;
}

bool isBias(LayerTensor t) {
    switch (t) {
        case LayerTensor::InputNormBias:
        case LayerTensor::PostNormBias:
        case LayerTensor::QBias:
        case LayerTensor::KBias:
        case LayerTensor::VBias:
        case LayerTensor::OBias:
        case LayerTensor::GateBias:
        case LayerTensor::UpBias:
        case LayerTensor::DownBias:
            return true;
        default:
            return false;
    }
}

std::string roleName(LayerTensor t) {
    // The Llama module names; the training scope speaks these for every family.
    static const FamilyTensorNames kLlama;
    const std::string& module = moduleName(kLlama, t);
    return module.substr(module.find('.') + 1);
}

bool storesTensor(const ModelConfig& c, LayerTensor t) {
    if (moduleName(c.traits().names, t).empty()) return false;
    switch (t) {
        case LayerTensor::InputNormWeight:
            return normHasWeight(c.norm());
        case LayerTensor::InputNormBias:
            return normHasBias(c.norm());
        case LayerTensor::PostNormWeight:
            return c.hasPostAttentionNorm() && normHasWeight(c.norm());
        case LayerTensor::PostNormBias:
            return c.hasPostAttentionNorm() && normHasBias(c.norm());
        case LayerTensor::QBias:
        case LayerTensor::KBias:
        case LayerTensor::VBias:
            return c.qkvBias;
        case LayerTensor::OBias:
            return c.outputBias;
        case LayerTensor::GateWeight:
            return c.traits().mlp == MlpLayout::Gated;
        case LayerTensor::GateBias:
            return c.traits().mlp == MlpLayout::Gated && c.mlpBias;
        case LayerTensor::UpBias:
        case LayerTensor::DownBias:
            return c.mlpBias;
        default:
            return true;
    }
}

bool storesTensor(const ModelConfig& c, GlobalTensor t) {
    switch (t) {
        case GlobalTensor::Embedding:
            return true;
        case GlobalTensor::FinalNormWeight:
            return normHasWeight(c.norm());
        case GlobalTensor::FinalNormBias:
            return normHasBias(c.norm());
        case GlobalTensor::LmHeadWeight:
            return !c.tieWordEmbeddings;
        case GlobalTensor::LmHeadBias:
            return c.lmHeadBias;
    }
    return false;
}

std::string layerTensorName(std::int64_t layer, const std::string& suffix) {
    return "model.layers." + std::to_string(layer) + "." + suffix;
}

std::string tensorName(const ModelConfig& c, std::int64_t layer, LayerTensor t) {
    return layerTensorName(layer,
                           moduleName(c.traits().names, t) + (isBias(t) ? ".bias" : ".weight"));
}

std::string tensorName(const ModelConfig& c, GlobalTensor t) {
    const FamilyTensorNames& n = c.traits().names;
    switch (t) {
        case GlobalTensor::Embedding:
            return n.embedding + ".weight";
        case GlobalTensor::FinalNormWeight:
            return n.finalNorm + ".weight";
        case GlobalTensor::FinalNormBias:
            return n.finalNorm + ".bias";
        case GlobalTensor::LmHeadWeight:
            return n.lmHead + ".weight";
        case GlobalTensor::LmHeadBias:
            return n.lmHead + ".bias";
    }
    throw Error("unknown global tensor");
}

std::vector<std::int64_t> tensorShape(const ModelConfig& c, LayerTensor t) {
    const std::int64_t D = c.hiddenSize, I = c.intermediateSize;
    switch (t) {
        case LayerTensor::QWeight:
            return {c.qDim(), D};
        case LayerTensor::QBias:
            return {c.qDim()};
        case LayerTensor::KWeight:
        case LayerTensor::VWeight:
            return {c.kvDim(), D};
        case LayerTensor::KBias:
        case LayerTensor::VBias:
            return {c.kvDim()};
        case LayerTensor::OWeight:
            return {D, c.qDim()};
        case LayerTensor::GateWeight:
        case LayerTensor::UpWeight:
            return {I, D};
        case LayerTensor::GateBias:
        case LayerTensor::UpBias:
            return {I};
        case LayerTensor::DownWeight:
            return {D, I};
        default:  // norms, o and down biases
            return {D};
    }
}

std::vector<std::int64_t> tensorShape(const ModelConfig& c, GlobalTensor t) {
    switch (t) {
        case GlobalTensor::Embedding:
        case GlobalTensor::LmHeadWeight:
            return {c.vocabSize, c.hiddenSize};
        case GlobalTensor::LmHeadBias:
            return {c.vocabSize};
        default:
            return {c.hiddenSize};
    }
}

std::vector<std::pair<std::string, std::vector<std::int64_t>>> expectedTensors(
    const ModelConfig& c) {
    std::vector<std::pair<std::string, std::vector<std::int64_t>>> out;
    auto global = [&](GlobalTensor t) {
        if (storesTensor(c, t)) out.push_back({tensorName(c, t), tensorShape(c, t)});
    };
    global(GlobalTensor::Embedding);
    for (std::int64_t l = 0; l < c.numLayers; ++l)
        for (LayerTensor t : allLayerTensors())
            if (storesTensor(c, t)) out.push_back({tensorName(c, l, t), tensorShape(c, t)});
    global(GlobalTensor::FinalNormWeight);
    global(GlobalTensor::FinalNormBias);
    global(GlobalTensor::LmHeadWeight);
    global(GlobalTensor::LmHeadBias);
    return out;
}

}  // namespace gqa
