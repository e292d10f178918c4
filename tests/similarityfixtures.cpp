// SPDX-License-Identifier: GPL-3.0-or-later
#include "similarityfixtures.h"

#include <QSignalSpy>
#include <gtest/gtest.h>

#include "groupingpane.h"

namespace gqa::test {

HeadAnalysisData syntheticAnalysis(int layers, int heads) {
    HeadAnalysisData d;
    d.modelName = QStringLiteral("synthetic");
    d.heads = heads;
    for (int g = heads; g >= 1; --g)
        if (heads % g == 0) d.groupCounts << g;
    for (int l = 0; l < layers; ++l) {
        LayerSimilarity s;
        for (int k = 0; k < 2; ++k)
            for (int c = 0; c < 2; ++c) {
                SimilarityPair& p = s.pairs[k][c];
                p.before.resize(heads * heads);
                p.after.resize(heads * heads);
                for (int i = 0; i < heads; ++i)
                    for (int j = 0; j < heads; ++j) {
                        const double v = i == j ? 0.0 : -(1.0 + (i + j + l + k + c) % 5);
                        p.before[i * heads + j] = v;
                        p.after[i * heads + j] = 0.4 * v;
                    }
                p.meanBefore = -3.0 - l;
                p.meanAfter = -1.0 - l;
            }
        d.layers << s;
    }
    return d;
}

GroupingData consecutiveGroups(int groups, int heads, int layers) {
    GroupingData g;
    g.groups = groups;
    for (int l = 0; l < layers; ++l) {
        LayerGrouping lg;
        const int k = heads / groups;
        for (int i = 0; i < groups; ++i) {
            QVector<int> members;
            for (int h = i * k; h < (i + 1) * k; ++h) members << h;
            lg.groups << members;
        }
        lg.objective = groups;
        lg.aligned.keyRelative = lg.aligned.valueRelative = 0.1 * l;
        lg.baseline.keyRelative = lg.baseline.valueRelative = 0.2 * l;
        g.layers << lg;
    }
    return g;
}

void waitForSearch(GroupingPane* pane) {
    constexpr int kWaitMs = 120000;  // searches of made-up answers take milliseconds; CI is slow
    QSignalSpy idle(pane, &GroupingPane::idle);
    if (pane->isComputing()) ASSERT_TRUE(idle.wait(kWaitMs));
}

}  // namespace gqa::test
