// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The colours of data series, one palette for the studio's charts and the report's figures, so
// that "before alignment" has the same colour on screen and on paper: the Okabe-Ito palette
// (distinguishable with every common colour-vision deficiency), in a fixed order.

#include <QColor>

namespace gqa {

constexpr int kSeriesColorCount = 8;

/// Series `index` (wraps around after kSeriesColorCount).
inline QColor seriesColor(int index) {
    static const QColor colors[kSeriesColorCount] = {
        QColor(0xe6, 0x9f, 0x00), QColor(0x00, 0x72, 0xb2), QColor(0x00, 0x9e, 0x73),
        QColor(0xd5, 0x5e, 0x00), QColor(0xcc, 0x79, 0xa7), QColor(0x56, 0xb4, 0xe9),
        QColor(0xf0, 0xe4, 0x42), QColor(0x00, 0x00, 0x00)};
    return colors[((index % kSeriesColorCount) + kSeriesColorCount) % kSeriesColorCount];
}

}  // namespace gqa
