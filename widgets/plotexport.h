// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Save any QCustomPlot as an image (PNG, or PDF when the name ends in .pdf) and its data as CSV,
// from a right-click menu ("Save image…", "Save data (CSV)…"). The plot provides its CSV text.

#include <functional>

#include <QString>

class QCustomPlot;

namespace gqa {

/// PNG or PDF by the file name's extension; false when the file cannot be written.
bool savePlotImage(QCustomPlot* plot, const QString& path);
/// Writes `csv` as UTF-8; false when the file cannot be written.
bool saveText(const QString& path, const QString& text);
/// Gives `plot` a context menu that saves the image and the CSV returned by `csv`.
void addExportMenu(QCustomPlot* plot, std::function<QString()> csv);

}  // namespace gqa
