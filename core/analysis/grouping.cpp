// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis/grouping.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>
#include <random>
#include <string>

#include "base/error.h"

namespace gqa {
namespace {

/// A steepest-descent swap counts as an improvement only above this fraction of max |S|: keeps
/// float round-off from accepting a swap and its inverse forever.
constexpr double kRelativeImprovement = 1e-12;
/// Second seed stream for Strong's own restarts (the 64-bit golden ratio, as in splitmix64).
constexpr std::uint64_t kStrongSeedOffset = 0x9E3779B97F4A7C15ull;

/// Dense symmetric copy of S: (S + S^T) / 2, row-major.
struct Dense {
    std::int64_t n = 0;
    std::vector<double> v;
    double maxAbs = 0.0;
    double operator()(std::int64_t i, std::int64_t j) const { return v[i * n + j]; }
};

Dense denseSimilarity(const torch::Tensor& similarity) {
    if (!similarity.defined() || similarity.dim() != 2 ||
        similarity.size(0) != similarity.size(1) || similarity.size(0) == 0)
        throw InputError("grouping: the similarity matrix must be square and non-empty");
    torch::Tensor s = similarity.to(torch::kCPU, torch::kFloat64);
    s = (0.5 * (s + s.t())).contiguous();
    if (!torch::isfinite(s).all().item<bool>())
        throw InputError("grouping: the similarity matrix has non-finite entries");
    Dense d;
    d.n = s.size(0);
    d.v.assign(s.data_ptr<double>(), s.data_ptr<double>() + s.numel());
    d.maxAbs = s.abs().max().item<double>();
    return d;
}

/// Uniform integer in [0, n) by rejection from raw 64-bit draws, so that a seed gives the same
/// groups with every standard library (std::uniform_int_distribution is implementation-defined).
std::uint64_t uniformBelow(std::mt19937_64& rng, std::uint64_t n) {
    const std::uint64_t threshold = (0 - n) % n;  // 2^64 mod n
    std::uint64_t x = rng();
    while (x < threshold) x = rng();
    return x % n;
}

/// Heads in a flat array: group g is members[g*k, (g+1)*k).
using Flat = std::vector<std::int64_t>;

Flat randomPartition(std::mt19937_64& rng, std::int64_t heads) {
    Flat p(heads);
    std::iota(p.begin(), p.end(), 0);
    for (std::int64_t i = heads - 1; i > 0; --i)
        std::swap(p[i], p[uniformBelow(rng, std::uint64_t(i) + 1)]);
    return p;
}

double flatScore(const Dense& s, const Flat& p, std::int64_t k) {
    double total = 0.0;
    for (std::size_t g = 0; g < p.size(); g += k)
        for (std::int64_t a = 0; a < k; ++a)
            for (std::int64_t b = a + 1; b < k; ++b) total += s(p[g + a], p[g + b]);
    return total;
}

Grouping toGrouping(const Flat& p, std::int64_t k) {
    Grouping groups;
    for (std::size_t g = 0; g < p.size(); g += k)
        groups.emplace_back(p.begin() + g, p.begin() + g + k);
    return groups;
}

/// Method §4.3: restarts x iterations of random two-group swaps, kept only on strict improvement.
Flat referenceSearch(const Dense& s, std::int64_t groups, const GroupSearchConfig& config) {
    const std::int64_t k = s.n / groups;
    std::mt19937_64 rng(config.seed);
    Flat best;
    double bestScore = -std::numeric_limits<double>::infinity();
    for (int r = 0; r < config.restarts; ++r) {
        Flat p = randomPartition(rng, s.n);
        for (int it = 0; groups > 1 && it < config.iterations; ++it) {
            const std::int64_t g1 = uniformBelow(rng, groups);
            std::int64_t g2 = uniformBelow(rng, groups - 1);
            if (g2 >= g1) ++g2;
            const std::int64_t i1 = g1 * k + uniformBelow(rng, k);
            const std::int64_t i2 = g2 * k + uniformBelow(rng, k);
            const std::int64_t a = p[i1], b = p[i2];
            double delta = 0.0;
            for (std::int64_t q = 0; q < k; ++q) {
                if (g1 * k + q != i1) delta += s(b, p[g1 * k + q]) - s(a, p[g1 * k + q]);
                if (g2 * k + q != i2) delta += s(a, p[g2 * k + q]) - s(b, p[g2 * k + q]);
            }
            if (delta > 0.0) std::swap(p[i1], p[i2]);
        }
        const double score = flatScore(s, p, k);
        if (score > bestScore) {
            bestScore = score;
            best = p;
        }
    }
    return best;
}

/// Best swap over all head pairs, repeated until none improves. w[h * G + g] = sum_{x in g} S_hx
/// gives every swap delta in O(1) and costs O(H) to update after a swap.
Flat steepestDescent(const Dense& s, std::int64_t groups, Flat p) {
    const std::int64_t n = s.n, k = n / groups;
    std::vector<std::int64_t> groupOf(n), slot(n);
    for (std::int64_t i = 0; i < n; ++i) {
        groupOf[p[i]] = i / k;
        slot[p[i]] = i;
    }
    std::vector<double> w(n * groups, 0.0);
    for (std::int64_t h = 0; h < n; ++h)
        for (std::int64_t x = 0; x < n; ++x) w[h * groups + groupOf[x]] += s(h, x);
    const double tolerance = kRelativeImprovement * std::max(1.0, s.maxAbs);
    while (true) {
        double bestDelta = tolerance;
        std::int64_t bestA = -1, bestB = -1;
        for (std::int64_t a = 0; a < n; ++a)
            for (std::int64_t b = a + 1; b < n; ++b) {
                const std::int64_t ga = groupOf[a], gb = groupOf[b];
                if (ga == gb) continue;
                const double delta =
                    (w[b * groups + ga] - s(b, a)) - (w[a * groups + ga] - s(a, a)) +
                    (w[a * groups + gb] - s(a, b)) - (w[b * groups + gb] - s(b, b));
                if (delta > bestDelta) {
                    bestDelta = delta;
                    bestA = a;
                    bestB = b;
                }
            }
        if (bestA < 0) break;
        const std::int64_t ga = groupOf[bestA], gb = groupOf[bestB];
        for (std::int64_t h = 0; h < n; ++h) {
            const double change = s(h, bestB) - s(h, bestA);
            w[h * groups + ga] += change;
            w[h * groups + gb] -= change;
        }
        std::swap(groupOf[bestA], groupOf[bestB]);
        std::swap(slot[bestA], slot[bestB]);
        p[slot[bestA]] = bestA;
        p[slot[bestB]] = bestB;
    }
    return p;
}

/// Every partition once: the first unassigned head always opens the next group.
class Enumerator {
public:
    Enumerator(const Dense& s, std::int64_t k) : m_s(s), m_k(k), m_used(s.n, 0) {}

    Flat run() {
        openGroup(0.0);
        return m_best;
    }

private:
    void openGroup(double score) {
        if (std::int64_t(m_current.size()) == m_s.n) {
            if (score > m_bestScore) {
                m_bestScore = score;
                m_best = m_current;
            }
            return;
        }
        const std::int64_t first = std::find(m_used.begin(), m_used.end(), 0) - m_used.begin();
        place(first, score);
    }

    void extend(std::int64_t from, double score) {
        if (m_current.size() % m_k == 0) return openGroup(score);
        for (std::int64_t c = from; c < m_s.n; ++c)
            if (!m_used[c]) place(c, score);
    }

    void place(std::int64_t head, double score) {
        const std::size_t groupStart = m_current.size() - m_current.size() % m_k;
        for (std::size_t i = groupStart; i < m_current.size(); ++i)
            score += m_s(head, m_current[i]);
        m_used[head] = 1;
        m_current.push_back(head);
        extend(head + 1, score);
        m_current.pop_back();
        m_used[head] = 0;
    }

    const Dense& m_s;
    const std::int64_t m_k;
    std::vector<char> m_used;
    Flat m_current, m_best;
    double m_bestScore = -std::numeric_limits<double>::infinity();
};

/// H! / ((k!)^G G!), the number of partitions into G unordered groups of k.
double partitionCount(std::int64_t heads, std::int64_t groups) {
    const double k = double(heads / groups);
    return std::exp(std::lgamma(heads + 1.0) - groups * std::lgamma(k + 1.0) -
                    std::lgamma(groups + 1.0));
}

void checkGroupCount(std::int64_t heads, std::int64_t groups) {
    if (groups <= 0 || heads <= 0 || heads % groups != 0)
        throw InputError("grouping: " + std::to_string(groups) + " groups do not divide " +
                         std::to_string(heads) + " heads");
}

}  // namespace

GroupSearchResult searchGrouping(const torch::Tensor& similarity, const GroupSearchConfig& config) {
    const Dense s = denseSimilarity(similarity);
    checkGroupCount(s.n, config.groups);
    if (config.restarts < 1 || config.iterations < 0)
        throw InputError("grouping: restarts must be positive and iterations non-negative");
    const std::int64_t g = config.groups, k = s.n / g;

    GroupSearchResult result;
    Flat best;
    if (config.method == GroupSearchMethod::Reference) {
        best = referenceSearch(s, g, config);
    } else if (partitionCount(s.n, g) <= kExactLimit * (1.0 + 1e-9)) {
        best = Enumerator(s, k).run();
        result.exact = true;
    } else {
        best = steepestDescent(s, g, referenceSearch(s, g, config));
        double bestScore = flatScore(s, best, k);
        std::mt19937_64 rng(config.seed ^ kStrongSeedOffset);
        for (int r = 0; r < config.restarts; ++r) {
            Flat p = steepestDescent(s, g, randomPartition(rng, s.n));
            const double score = flatScore(s, p, k);
            if (score > bestScore) {
                bestScore = score;
                best = std::move(p);
            }
        }
    }
    result.groups = canonicalGrouping(toGrouping(best, k));
    result.objective = groupingObjective(similarity, result.groups);
    return result;
}

double groupingObjective(const torch::Tensor& similarity, const Grouping& groups) {
    const Dense s = denseSimilarity(similarity);
    validateGrouping(groups, s.n);
    double total = 0.0;
    for (const auto& group : groups)
        for (std::size_t a = 0; a < group.size(); ++a)
            for (std::size_t b = a + 1; b < group.size(); ++b) total += s(group[a], group[b]);
    return total;
}

const char* groupingSourceName(GroupingSource source) {
    switch (source) {
        case GroupingSource::Searched:
            return "searched";
        case GroupingSource::Consecutive:
            return "consecutive";
        case GroupingSource::Given:
            return "given";
    }
    return "searched";
}

Grouping consecutiveGrouping(std::int64_t heads, std::int64_t groups) {
    checkGroupCount(heads, groups);
    const std::int64_t k = heads / groups;
    Grouping result(groups);
    for (std::int64_t h = 0; h < heads; ++h) result[h / k].push_back(h);
    return result;
}

Grouping canonicalGrouping(Grouping groups) {
    for (auto& group : groups) std::sort(group.begin(), group.end());
    auto key = [](const std::vector<std::int64_t>& group) {
        const std::int64_t first = group.empty() ? -1 : group.front();
        return std::make_pair(std::accumulate(group.begin(), group.end(), std::int64_t(0)), first);
    };
    // Equal sums (e.g. {0, 3} and {1, 2}) are ordered by their smallest member.
    std::sort(groups.begin(), groups.end(),
              [&](const auto& a, const auto& b) { return key(a) < key(b); });
    return groups;
}

void validateGrouping(const Grouping& groups, std::int64_t heads) {
    if (heads <= 0 || groups.empty()) throw InputError("grouping: no heads or no groups");
    const std::size_t k = groups.front().size();
    checkGroupCount(heads, std::int64_t(groups.size()));
    std::vector<char> seen(heads, 0);
    for (std::size_t g = 0; g < groups.size(); ++g) {
        if (groups[g].size() != k || std::int64_t(k * groups.size()) != heads)
            throw InputError("grouping: group " + std::to_string(g) + " has " +
                             std::to_string(groups[g].size()) + " heads, expected " +
                             std::to_string(heads / std::int64_t(groups.size())));
        for (std::int64_t h : groups[g]) {
            if (h < 0 || h >= heads)
                throw InputError("grouping: head " + std::to_string(h) + " is out of range [0, " +
                                 std::to_string(heads) + ")");
            if (seen[h]++)
                throw InputError("grouping: head " + std::to_string(h) + " appears twice");
        }
    }
}

std::vector<std::int64_t> headOrder(const Grouping& groups) {
    std::vector<std::int64_t> order;
    for (const auto& group : groups) order.insert(order.end(), group.begin(), group.end());
    return order;
}

}  // namespace gqa
