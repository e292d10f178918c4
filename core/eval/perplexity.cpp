// SPDX-License-Identifier: GPL-3.0-or-later
#include "eval/perplexity.h"

#include <cmath>

#include "base/error.h"
#include "base/threadpolicy.h"

namespace gqa {

PerplexityResult perplexity(const DecoderModel& model, const std::vector<std::int64_t>& tokens,
                            const PerplexityConfig& config, ProgressSink& progress) {
    useThreadsForModel(model.config().hiddenSize);
    const std::int64_t n = static_cast<std::int64_t>(tokens.size());
    const std::int64_t context = config.contextLength;
    const std::int64_t stride = config.stride == 0 ? context : config.stride;
    if (n < 2)
        throw InputError("perplexity needs at least 2 tokens (got " + std::to_string(n) + ")");
    if (context < 2) throw InputError("context length must be at least 2");
    if (stride < 1 || stride > context)
        throw InputError("stride must be between 1 and the context length");
    if (context > model.config().maxPositionEmbeddings)
        throw InputError("context length " + std::to_string(context) +
                         " exceeds the model's max_position_embeddings (" +
                         std::to_string(model.config().maxPositionEmbeddings) + ")");

    torch::NoGradGuard noGrad;
    const torch::Tensor all = torch::tensor(tokens, torch::kLong);
    double nllSum = 0.0;
    PerplexityResult result;
    std::int64_t prevEnd = 0;
    for (std::int64_t begin = 0; begin < n; begin += stride) {
        const std::int64_t end = std::min(begin + context, n);
        const std::int64_t firstScored = std::max(prevEnd, begin + 1);  // absolute position
        if (end - firstScored > 0) {
            torch::Tensor window = all.slice(0, begin, end).unsqueeze(0);
            torch::Tensor logits = model.forward(window)[0].to(torch::kFloat64);  // [T, V]
            // Position j is predicted from the logits at j - 1.
            torch::Tensor logProbs =
                torch::log_softmax(logits.slice(0, firstScored - begin - 1, end - begin - 1), -1);
            torch::Tensor targets = all.slice(0, firstScored, end).to(logProbs.device());
            nllSum -= logProbs.gather(1, targets.unsqueeze(1)).sum().item<double>();
            result.tokensScored += end - firstScored;
        }
        ++result.windows;
        prevEnd = end;
        reportOrCancel(progress,
                       {double(end) / double(n),
                        "perplexity",
                        {{"nll", nllSum / std::max<std::int64_t>(1, result.tokensScored)}}});
        if (end == n) break;
    }
    result.meanNll = nllSum / double(result.tokensScored);
    result.perplexity = std::exp(result.meanNll);
    result.contextLength = context;
    result.stride = stride;
    return result;
}

}  // namespace gqa
