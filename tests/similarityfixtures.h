// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Made-up analysis and grouping results for the studio's similarity and grouping widget tests:
// distinct per layer, kind and criterion, so that a widget showing the wrong one would be caught.

#include "headanalysisdata.h"

namespace gqa {
class GroupingPane;
}

namespace gqa::test {

/// Layers of n heads whose similarities are made-up but distinct per layer, kind and criterion;
/// "after" is always closer to zero than "before" (more similar under dist).
HeadAnalysisData syntheticAnalysis(int layers, int heads);

/// `groups` groups of consecutive heads in every layer, with made-up costs growing with the layer.
GroupingData consecutiveGroups(int groups, int heads, int layers);

/// Waits (a test failure after two minutes) until the pane's grouping search, if one runs, ends.
void waitForSearch(GroupingPane* pane);

}  // namespace gqa::test
