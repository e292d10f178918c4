// SPDX-License-Identifier: GPL-3.0-or-later
#include "headanalysisdata.h"

#include <QObject>

namespace gqa {

double GroupingData::totalObjective() const {
    double sum = 0.0;
    for (const auto& l : layers) sum += l.objective;
    return sum;
}

double GroupingData::meanAlignedCost() const {
    double sum = 0.0;
    for (const auto& l : layers) sum += l.aligned.relative();
    return layers.isEmpty() ? 0.0 : sum / double(layers.size());
}

double GroupingData::meanLeastSquaresCost() const {
    double sum = 0.0;
    for (const auto& l : layers) sum += l.leastSquares.relative();
    return layers.isEmpty() ? 0.0 : sum / double(layers.size());
}

double GroupingData::meanBaselineCost() const {
    double sum = 0.0;
    for (const auto& l : layers) sum += l.baseline.relative();
    return layers.isEmpty() ? 0.0 : sum / double(layers.size());
}

const GroupingData* HeadAnalysisData::precomputed(int groups, const GroupingDriver& d) const {
    if (!(d == driver)) return nullptr;
    for (const auto& g : groupings)
        if (g.groups == groups) return &g;
    return nullptr;
}

QString kindLabel(HeadKind kind) {
    return kind == HeadKind::Keys ? QObject::tr("keys") : QObject::tr("values");
}

QString criterionLabel(Criterion criterion) {
    return criterion == Criterion::Cos ? QStringLiteral("cos") : QStringLiteral("dist");
}

}  // namespace gqa
