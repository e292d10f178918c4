// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysis/headkinds.h"

namespace gqa {

const char* headKindName(HeadKind kind) { return kind == HeadKind::Keys ? "key" : "value"; }

const char* criterionName(Criterion c) { return c == Criterion::Dist ? "dist" : "cos"; }

}  // namespace gqa
