// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The report's figures, drawn off-screen with QCustomPlot into images: line plots (training
// curves, gate trajectory, similarity per layer) and heatmaps (similarity matrices, final gates).
// QCustomPlot is a widget: call these on the GUI thread of a QApplication (the CLI creates one
// with the offscreen platform).

#include <utility>
#include <vector>

#include <QImage>
#include <QString>

namespace gqa::report {

struct Series {
    QString name;
    std::vector<double> y;
    bool dashed = false;
    bool points = false;  ///< markers only (sparse measurements such as validation losses)
};

/// The colour scale of a heatmap: the studio's similarity maps' or its gate map's.
enum class HeatmapColors { Similarity, Gates };

/// Lines over a shared x; series without a finite point are left out (legend included), the
/// others keep the colour of their position (seriesColor). The legend is below the axes.
/// logY for positive-only quantities.
QImage linePlot(const QString& title, const QString& xLabel, const std::vector<double>& x,
                const std::vector<Series>& series, bool logY = false, int width = 640,
                int height = 300);

/// A rows x cols matrix (row-major) as a colour map with a colour scale, row 0 at the top.
QImage heatmap(const QString& title, const std::vector<double>& values, int rows, int cols,
               const QString& xLabel, const QString& yLabel, double lower, double upper,
               int width = 320, int height = 300, HeatmapColors colors = HeatmapColors::Similarity);

/// Two images side by side on a white background.
QImage sideBySide(const QImage& left, const QImage& right);

}  // namespace gqa::report
