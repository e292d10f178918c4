// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzzes config.json parsing (ModelConfig::fromJson) and what inspect and the studio compute from
// an accepted config (summary, tensor list, parameter and KV-cache counts, toJson round trip).
// gqa::Error (InputError) is the expected refusal; a crash, sanitizer report (overflow included),
// other exception, hang, or an accepted config that does not read back equal is a finding.

#include <cstdint>
#include <string>

#include "base/error.h"
#include "io/modelconfig.h"
#include "io/modelfamily.h"

#include "fuzzsupport.h"

using namespace gqa;

namespace {

bool sameConfig(const ModelConfig& a, const ModelConfig& b) {
    return a.vocabSize == b.vocabSize && a.hiddenSize == b.hiddenSize &&
           a.intermediateSize == b.intermediateSize && a.numLayers == b.numLayers &&
           a.numHeads == b.numHeads && a.numKvHeads == b.numKvHeads && a.headDim == b.headDim &&
           a.family == b.family && a.normEps == b.normEps && a.activation == b.activation &&
           a.qkvBias == b.qkvBias && a.outputBias == b.outputBias && a.mlpBias == b.mlpBias &&
           a.lmHeadBias == b.lmHeadBias && a.parallelResidual == b.parallelResidual &&
           a.partialRotaryFactor == b.partialRotaryFactor && a.slidingWindow == b.slidingWindow &&
           a.ropeTheta == b.ropeTheta && a.ropeLinearFactor == b.ropeLinearFactor &&
           a.maxPositionEmbeddings == b.maxPositionEmbeddings &&
           a.tieWordEmbeddings == b.tieWordEmbeddings && a.bosTokenId == b.bosTokenId &&
           a.eosTokenId == b.eosTokenId && a.dtype == b.dtype;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string text(reinterpret_cast<const char*>(data), size);
    ModelConfig config;
    try {
        config = ModelConfig::fromJson(text, "config.json");
    } catch (const gqa::Error&) {
        return 0;  // InputError: a refused config, the expected outcome for most inputs
    }
    // Accepted: from here on every exception is a finding (uncaught, so libFuzzer reports it).
    config.validate();
    FUZZ_CHECK(config.rotaryDims() > 0 && config.rotaryDims() <= config.headDim);
    FUZZ_CHECK(config.groupSize() >= 1);
    config.familySummary();
    FUZZ_CHECK(config.parameterCount() > 0);
    for (const auto& [name, shape] : expectedTensors(config)) {
        FUZZ_CHECK(!name.empty());
        for (std::int64_t d : shape) FUZZ_CHECK(d > 0);
    }
    for (std::int64_t kv : config.validKvHeadCounts()) {
        FUZZ_CHECK(config.numHeads % kv == 0);
        config.kvCacheBytesPerToken(kv, 2);
    }
    const ModelConfig again = ModelConfig::fromJson(config.toJson(), "written config.json");
    FUZZ_CHECK(sameConfig(config, again));
    return 0;
}
