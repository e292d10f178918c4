// SPDX-License-Identifier: GPL-3.0-or-later
#include "reportfigures.h"

#include <cmath>

#include <QPainter>
#include <qcustomplot.h>

namespace gqa::report {
namespace {
const QColor kColors[] = {QColor(31, 119, 180),  QColor(255, 127, 14),  QColor(44, 160, 44),
                          QColor(214, 39, 40),   QColor(148, 103, 189), QColor(140, 86, 75),
                          QColor(227, 119, 194), QColor(127, 127, 127), QColor(188, 189, 34),
                          QColor(23, 190, 207)};

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
    int index = 0;
    for (const Series& s : series) {
        if (s.y.empty()) continue;
        QVector<double> xs, ys;
        for (std::size_t i = 0; i < s.y.size() && i < x.size(); ++i) {
            if (!std::isfinite(s.y[i]) || (logY && s.y[i] <= 0)) continue;
            xs << x[i];
            ys << s.y[i];
        }
        QCPGraph* g = plot.addGraph();
        g->setName(s.name);
        QPen pen(kColors[index++ % 10], 1.5);
        if (s.dashed) pen.setStyle(Qt::DashLine);
        g->setPen(pen);
        g->setData(xs, ys, true);
        if (xs.size() < 3) g->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, 5));
    }
    plot.legend->setVisible(plot.graphCount() > 0 && plot.graphCount() <= 10);
    plot.legend->setFont(QFont(QStringLiteral("Sans"), 7));
    plot.rescaleAxes();
    if (plot.graphCount() == 0) plot.xAxis->setRange(0, 1);
    return plot.toPixmap(width, height).toImage();
}

QImage heatmap(const QString& title, const std::vector<double>& values, int rows, int cols,
               const QString& xLabel, const QString& yLabel, double lower, double upper, int width,
               int height) {
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
    QCPColorGradient gradient;
    gradient.setColorStopAt(0.0, QColor(255, 255, 255));
    gradient.setColorStopAt(0.5, QColor(107, 174, 214));
    gradient.setColorStopAt(1.0, QColor(8, 48, 107));
    gradient.setNanHandling(QCPColorGradient::nhTransparent);
    map->setGradient(gradient);
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
