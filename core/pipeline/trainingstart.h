// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Where the conversion training starts: the one choice that `gqa-cli convert`, the Training tab
// and the wizard offer, with its names in run configs. Torch-free (the studio's settings hold it).

#include <string>
#include <vector>

namespace gqa {

enum class TrainingStart {
    LeastSquares,  ///< aligned heads; the gates move onto the least-squares merge (method §7.2)
    AlignedMean,   ///< aligned heads; the gates move onto the group means (the paper, §6.1)
    MeanPool,      ///< original consecutive heads, mean-pooled (the baseline, §8: no alignment)
};

/// The default of every front end: the least-squares start won at G = 4, 2 and 1 after the same
/// training (conversion benchmark, docs/benchmarks.md).
constexpr TrainingStart kDefaultTrainingStart = TrainingStart::LeastSquares;

/// Every start, in the order front ends list them.
const std::vector<TrainingStart>& trainingStarts();
/// "least-squares", "aligned", "mean-pool".
const char* trainingStartName(TrainingStart start);
/// Inverse of trainingStartName; InputError naming the valid values otherwise.
TrainingStart parseTrainingStart(const std::string& name);
/// True for the starts that align the heads (and so need calibration text).
bool alignsHeads(TrainingStart start);

}  // namespace gqa
