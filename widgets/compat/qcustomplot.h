// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Shim for Debian's QCustomPlot 2.1 header, which spells Qt's keywords (`signals`, `slots`,
// `emit`, `foreach`) that this project turns off with QT_NO_KEYWORDS (they break LibTorch).
// gqa_widgets puts this folder first on the include path, so a plain `#include <qcustomplot.h>`
// lands here: the keywords are mapped to their Q_ macros for QCustomPlot's declarations only and
// undefined again afterwards, so torch headers included later never see them.

#define signals Q_SIGNALS
#define slots Q_SLOTS
#define emit Q_EMIT
#define foreach Q_FOREACH
#include_next <qcustomplot.h>
#undef signals
#undef slots
#undef emit
#undef foreach
