// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Which head outputs are compared (keys or values) and by which criterion (method §4.2, §5.5).
// Torch-free: the studio's panels and the widgets use these values as they are.

namespace gqa {

enum class HeadKind { Keys, Values };
enum class Criterion { Dist, Cos };

const char* headKindName(HeadKind kind);  ///< "key" / "value" (the reference's --item)
const char* criterionName(Criterion c);   ///< "dist" / "cos"

}  // namespace gqa
