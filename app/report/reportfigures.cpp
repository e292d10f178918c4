// SPDX-License-Identifier: GPL-3.0-or-later
#include "reportfigures.h"

#include <cmath>

#include <QPainter>
#include <qcustomplot.h>

#include "gateheatmap.h"
#include "headheatmap.h"
#include "seriescolors.h"

namespace gqa::report {
namespace {

void styleTitle(QCustomPlot& plot, const QString& title) {
    plot.plotLayout()->insertRow(0);
    auto* text = new QCPTextElement(&plot, title, QFont(QStringLiteral("Sans"), 10, QFont::Bold));
    plot.plotLayout()->addElement(0, 0, text);
}
}  // namespace

QImage linePlot(const QString& title, const QString& xLabel, const std::vector<double>& x,
                const std::vector<Series>& series, bool logY, int width, int height) {
    QCustomPlot plot;
    plot.resize(width, height);
    styleTitle(plot, title);
    plot.xAxis->setLabel(xLabel);
    if (logY) {
        plot.yAxis->setScaleType(QCPAxis::stLogarithmic);
        plot.yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    }
    int index = -1;
    for (const Series& s : series) {
        ++index;  // a series keeps its colour whether or not the ones before it have points
        QVector<double> xs, ys;
        for (std::size_t i = 0; i < s.y.size() && i < x.size(); ++i) {
            if (!std::isfinite(s.y[i]) || (logY && s.y[i] <= 0)) continue;
            xs << x[i];
            ys << s.y[i];
        }
        if (xs.isEmpty()) continue;  // nothing to draw: not in the legend either
        QCPGraph* g = plot.addGraph();
        g->setName(s.name);
        QPen pen(seriesColor(index), 1.5);
        if (s.dashed) pen.setStyle(Qt::DashLine);
        g->setPen(pen);
        g->setData(xs, ys, true);
        if (s.points) {
            g->setLineStyle(QCPGraph::lsNone);
            g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssDisc, seriesColor(index), 6));
        } else if (xs.size() < 3) {
            g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
        }
    }
    plot.legend->setVisible(plot.graphCount() > 0 && plot.graphCount() <= 10);
    plot.legend->setFont(QFont(QStringLiteral("Sans"), 7));
    // Below the axes, wrapping: inside the axis rect it covered the curves (as in the studio).
    plot.axisRect()->insetLayout()->take(plot.legend);
    plot.plotLayout()->addElement(plot.plotLayout()->rowCount(), 0, plot.legend);
    plot.plotLayout()->setRowStretchFactor(plot.plotLayout()->rowCount() - 1, 0.001);
    plot.legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    plot.legend->setWrap(4);
    plot.legend->setBorderPen(Qt::NoPen);
    plot.rescaleAxes();
    if (plot.graphCount() == 0) plot.xAxis->setRange(0, 1);
    return plot.toPixmap(width, height).toImage();
}

QImage heatmap(const QString& title, const std::vector<double>& values, int rows, int cols,
               const QString& xLabel, const QString& yLabel, double lower, double upper, int width,
               int height, HeatmapColors colors) {
    QCustomPlot plot;
    plot.resize(width, height);
    styleTitle(plot, title);
    auto* map = new QCPColorMap(plot.xAxis, plot.yAxis);
    map->data()->setSize(cols, rows);
    map->data()->setRange(QCPRange(0, cols - 1), QCPRange(0, rows - 1));
    for (int r = 0; r < rows; ++r)
        for (int c = 0; c < cols; ++c) {
            const std::size_t i = std::size_t(r) * std::size_t(cols) + std::size_t(c);
            map->data()->setCell(c, r, i < values.size() ? values[i] : std::nan(""));
        }
    // The studio's colours: viridis for similarities (the diagonal, NaN, grey), thermal for gates.
    map->setGradient(colors == HeatmapColors::Gates ? GateHeatmap::gradient()
                                                    : HeadHeatmap::gradient());
    map->setInterpolate(false);
    auto* scale = new QCPColorScale(&plot);
    plot.plotLayout()->addElement(1, 1, scale);
    scale->setType(QCPAxis::atRight);
    map->setColorScale(scale);  // takes the scale's range: set ours afterwards
    map->setDataRange(QCPRange(lower, upper > lower ? upper : lower + 1.0));
    auto* group = new QCPMarginGroup(&plot);
    plot.axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    scale->setMarginGroup(QCP::msBottom | QCP::msTop, group);
    plot.xAxis->setLabel(xLabel);
    plot.yAxis->setLabel(yLabel);
    plot.xAxis->setRange(-0.5, cols - 0.5);
    plot.yAxis->setRange(-0.5, rows - 0.5);
    plot.yAxis->setRangeReversed(true);
    return plot.toPixmap(width, height).toImage();
}

QImage sideBySide(const QImage& left, const QImage& right) {
    QImage out(left.width() + right.width(), std::max(left.height(), right.height()),
               QImage::Format_RGB32);
    out.fill(Qt::white);
    QPainter p(&out);
    p.drawImage(0, 0, left);
    p.drawImage(left.width(), 0, right);
    return out;
}

}  // namespace gqa::report
