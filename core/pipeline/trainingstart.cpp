// SPDX-License-Identifier: GPL-3.0-or-later
#include "pipeline/trainingstart.h"

#include "base/error.h"

namespace gqa {

const std::vector<TrainingStart>& trainingStarts() {
    static const std::vector<TrainingStart> all{
        TrainingStart::LeastSquares, TrainingStart::AlignedMean, TrainingStart::MeanPool};
    return all;
}

const char* trainingStartName(TrainingStart start) {
    switch (start) {
        case TrainingStart::LeastSquares:
            return "least-squares";
        case TrainingStart::AlignedMean:
            return "aligned";
        case TrainingStart::MeanPool:
            return "mean-pool";
    }
    return "";
}

TrainingStart parseTrainingStart(const std::string& name) {
    for (TrainingStart s : trainingStarts())
        if (name == trainingStartName(s)) return s;
    throw InputError("unknown training start \"" + name +
                     "\" (expected least-squares, aligned or mean-pool)");
}

bool alignsHeads(TrainingStart start) { return start != TrainingStart::MeanPool; }

}  // namespace gqa
