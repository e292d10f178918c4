// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Plain values of the head analysis as the studio shows it: what the analysis worker converts
// core's AnalysisResult (torch tensors) into before it crosses to the GUI thread. Matrices are
// QVector<double>, n x n row-major. Nothing here refers to torch; the statistics needed to
// recompute groupings later travel as an opaque, immutable handle (HeadStatisticsStore, defined in
// headstatisticsstore.h, which only .cpp files include).

#include <memory>

#include <QMetaType>
#include <QString>
#include <QStringList>
#include <QVector>

#include "analysis/headkinds.h"

namespace gqa {

struct HeadStatisticsStore;

/// Which similarity matrix drives a grouping search.
struct GroupingDriver {
    HeadKind kind = HeadKind::Values;  ///< method §11 default
    Criterion criterion = Criterion::Dist;
    bool operator==(const GroupingDriver& o) const {
        return kind == o.kind && criterion == o.criterion;
    }
};

/// One layer's similarity of one kind under one criterion.
struct SimilarityPair {
    QVector<double> before;   ///< n x n, no alignment
    QVector<double> after;    ///< n x n, after pairwise Procrustes alignment
    double meanBefore = 0.0;  ///< mean off-diagonal entry
    double meanAfter = 0.0;
};

struct LayerSimilarity {
    SimilarityPair pairs[2][2];  ///< [HeadKind][Criterion]
    const SimilarityPair& of(HeadKind k, Criterion c) const { return pairs[int(k)][int(c)]; }
};

/// The predicted cost of merging a layer's groups (core MergeCost).
struct MergeCostValues {
    double keyResidual = 0.0, valueResidual = 0.0;
    double keyRelative = 0.0, valueRelative = 0.0;
    /// Mean of the key and value relative residuals (0 = free merge, 1 = all signal lost).
    double relative() const { return 0.5 * (keyRelative + valueRelative); }
};

/// One layer's grouping for some G, its search objective and predicted merge cost.
struct LayerGrouping {
    QVector<QVector<int>> groups;  ///< groups of original head indices
    double objective = 0.0;
    double consecutiveObjective = 0.0;  ///< plain GQA (consecutive heads) under the same driver
    bool exact = false;                 ///< found by exhaustive search
    bool edited = false;                ///< changed by hand
    MergeCostValues aligned;            ///< this grouping + alignment, then mean
    MergeCostValues baseline;           ///< consecutive heads, no alignment, then mean
    MergeCostValues leastSquares;       ///< this grouping + alignment, least-squares merge
};

/// All layers' groupings for one G.
struct GroupingData {
    int groups = 0;
    GroupingDriver driver;
    QVector<LayerGrouping> layers;
    double totalObjective() const;
    /// Means over layers of the relative merge costs.
    double meanAlignedCost() const;
    double meanBaselineCost() const;
    double meanLeastSquaresCost() const;
};

struct HeadAnalysisData {
    QString modelFolder;
    QString modelName;
    QString runFile;  ///< where the calibration is stored ("" when it could not be)
    bool reusedCalibration = false;
    qint64 tokens = 0;         ///< calibration tokens
    int heads = 0;             ///< KV heads of the analysed (MHA) model
    QVector<int> groupCounts;  ///< every valid G, descending, including MHA (= heads)
    GroupingDriver driver;     ///< of the precomputed groupings
    QVector<LayerSimilarity> layers;
    QVector<GroupingData> groupings;  ///< precomputed by analyzeHeads, one per G below heads
    QStringList warnings;
    std::shared_ptr<const HeadStatisticsStore> statistics;  ///< for recomputing groupings

    int layerCount() const { return int(layers.size()); }
    /// The precomputed grouping for G under `driver`, or null.
    const GroupingData* precomputed(int groups, const GroupingDriver& driver) const;
};

QString kindLabel(HeadKind kind);             ///< "keys" / "values"
QString criterionLabel(Criterion criterion);  ///< "dist" / "cos"

}  // namespace gqa

Q_DECLARE_METATYPE(gqa::HeadAnalysisData)
Q_DECLARE_METATYPE(gqa::GroupingData)
Q_DECLARE_METATYPE(gqa::LayerGrouping)
