// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Partitioning a layer's H heads into G equal groups of k = H / G that maximise the summed
// in-group similarity  score(P) = sum_g sum_{i<j in g} S_ij  (method §4.3).
//
// Methods:
// - Reference: the reference code's search, seeded so it is reproducible: `restarts` random
//   partitions, each improved by `iterations` random swaps between two groups, a swap kept only if
//   the score strictly improves; the best partition wins (first-improvement hill-climb, not
//   annealing).
// - Strong: exhaustive when the number of partitions is small (H!/((k!)^G G!) <= kExactLimit),
//   otherwise restarts of steepest-descent over all swaps with O(k) incremental deltas until no
//   swap improves. Never worse than Reference for the same seed because its first restart starts
//   from the Reference result.
// Groups are returned in canonical order (members ascending, groups by the sum of their original
// indices, method §4.3 `reorder`); the head order is their concatenation.

#include <cstdint>
#include <vector>

#include <torch/torch.h>

namespace gqa {

using Grouping = std::vector<std::vector<std::int64_t>>;  ///< groups of original head indices

/// Where a conversion's groups come from: the similarity search (method §5), consecutive heads
/// (the mean-pool baseline), or given by the user (a grouping file, the studio's edited groups).
enum class GroupingSource { Searched, Consecutive, Given };
/// "searched", "consecutive", "given": the run file's training settings and the report use these.
const char* groupingSourceName(GroupingSource source);

enum class GroupSearchMethod { Reference, Strong };

/// Reference defaults: `epoch=200`, `max_iter=3000` [code:rearrange_model.py:15-68].
constexpr int kReferenceRestarts = 200;
constexpr int kReferenceIterations = 3000;
/// Enumerate every partition when there are at most this many.
constexpr double kExactLimit = 2.0e6;

struct GroupSearchConfig {
    std::int64_t groups = 1;
    GroupSearchMethod method = GroupSearchMethod::Strong;
    int restarts = kReferenceRestarts;
    int iterations = kReferenceIterations;
    std::uint64_t seed = 0;
};

struct GroupSearchResult {
    Grouping groups;
    double objective = 0.0;
    bool exact = false;  ///< found by exhaustive enumeration (provably optimal)
};

/// S is [H, H] symmetric. InputError if G does not divide H.
GroupSearchResult searchGrouping(const torch::Tensor& similarity, const GroupSearchConfig& config);

double groupingObjective(const torch::Tensor& similarity, const Grouping& groups);
/// Plain GQA: {0..k-1}, {k..2k-1}, ...
Grouping consecutiveGrouping(std::int64_t heads, std::int64_t groups);
/// Members ascending, groups ordered by the sum of their indices.
Grouping canonicalGrouping(Grouping groups);
/// InputError unless `groups` is a partition of 0..heads-1 into equal groups.
void validateGrouping(const Grouping& groups, std::int64_t heads);
/// The new head order: concatenation of the groups.
std::vector<std::int64_t> headOrder(const Grouping& groups);

}  // namespace gqa
