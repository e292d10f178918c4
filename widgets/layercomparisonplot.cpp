// SPDX-License-Identifier: GPL-3.0-or-later
#include "layercomparisonplot.h"
#include "titlewrap.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <QToolTip>

#include "plotexport.h"
#include "seriescolors.h"

namespace gqa {
namespace {
const QCPScatterStyle::ScatterShape kShapes[LayerComparisonPlot::kMaxSeries] = {
    QCPScatterStyle::ssCircle, QCPScatterStyle::ssSquare, QCPScatterStyle::ssTriangle,
    QCPScatterStyle::ssDiamond};
// The bars of one layer fill this share of the layer's width together.
constexpr double kBarGroupWidth = 0.76;

QVector<double> padded(const QVector<double>& v, int n) {
    QVector<double> out = v;
    out.resize(n);
    for (int i = int(v.size()); i < n; ++i) out[i] = std::numeric_limits<double>::quiet_NaN();
    return out;
}
}  // namespace

LayerComparisonPlot::LayerComparisonPlot(Style style, QWidget* parent)
    : QCustomPlot(parent), m_style(style) {
    setInteractions({});
    plotLayout()->insertRow(0);
    m_title =
        new WrappingTitle(this, QString(), QFont(font().family(), font().pointSize(), QFont::Bold));
    plotLayout()->addElement(0, 0, m_title);
    xAxis->setLabel(tr("layer"));
    auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
    ticker->setTickStep(1.0);
    ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
    xAxis->setTicker(ticker);
    xAxis->setSubTicks(false);
    xAxis->grid()->setVisible(false);
    // The legend goes in a row of its own under the axes, so it never hides a bar or a point.
    legend->setVisible(true);
    legend->setFont(font());
    legend->setBorderPen(Qt::NoPen);
    legend->setBrush(Qt::NoBrush);
    legend->setFillOrder(QCPLegend::foColumnsFirst);
    legend->setWrap(2);  // two entries a row: three or four names still fit a narrow plot
    legend->setMargins(QMargins(4, 0, 4, 0));
    axisRect()->insetLayout()->take(legend);
    plotLayout()->addElement(2, 0, legend);
    plotLayout()->setRowStretchFactor(2, 0.001);

    m_band = new QCPItemRect(this);
    m_band->setPen(Qt::NoPen);
    m_band->setBrush(QColor(0x1f, 0x5f, 0xbf, 40));
    m_band->topLeft->setTypeY(QCPItemPosition::ptAxisRectRatio);
    m_band->bottomRight->setTypeY(QCPItemPosition::ptAxisRectRatio);
    m_band->setVisible(false);

    for (int i = 0; i < kMaxSeries; ++i) {
        if (style == Style::Lines) {
            QCPGraph* line = addGraph();
            line->setPen(QPen(seriesColor(i), 2));
            line->setScatterStyle(QCPScatterStyle(kShapes[i], seriesColor(i), seriesColor(i), 6));
            m_lines.push_back(line);
        } else {
            auto* bars = new QCPBars(xAxis, yAxis);
            bars->setPen(QPen(seriesColor(i).darker(130)));
            bars->setBrush(seriesColor(i));
            m_bars.push_back(bars);
        }
    }
    clear();
    addExportMenu(this, [this] { return toCsv(); });
}

void LayerComparisonPlot::setTitle(const QString& title) {
    m_title->setFullText(title);
    replot(rpQueuedReplot);
}

void LayerComparisonPlot::setValueLabel(const QString& label) {
    yAxis->setLabel(label);
    replot(rpQueuedReplot);
}

void LayerComparisonPlot::clear() { setSeries(QVector<Series>{}); }

void LayerComparisonPlot::setSeries(const QString& nameA, const QVector<double>& a,
                                    const QString& nameB, const QVector<double>& b) {
    setSeries(QVector<Series>{{nameA, a}, {nameB, b}});
}

void LayerComparisonPlot::setSeries(const QVector<Series>& series) {
    m_series = series.mid(0, kMaxSeries);
    m_layers = 0;
    for (const Series& s : m_series) m_layers = std::max(m_layers, int(s.values.size()));
    for (Series& s : m_series) s.values = padded(s.values, m_layers);
    const int n = int(m_series.size());
    const double width = n > 0 ? kBarGroupWidth / n : kBarGroupWidth;
    for (int i = 0; i < kMaxSeries; ++i) {
        const bool used = i < n;
        QVector<double> keys(used ? m_layers : 0), values;
        if (used) values = m_series[i].values;
        // Bars of one layer side by side, centred on the layer.
        const double offset = m_style == Style::Bars ? (i - (n - 1) / 2.0) * width : 0.0;
        for (int l = 0; l < int(keys.size()); ++l) keys[l] = l + offset;
        QCPAbstractPlottable* plottable =
            m_style == Style::Lines ? static_cast<QCPAbstractPlottable*>(m_lines[i]) : m_bars[i];
        if (m_style == Style::Lines)
            m_lines[i]->setData(keys, values, true);
        else {
            m_bars[i]->setWidth(width);
            m_bars[i]->setData(keys, values, true);
        }
        plottable->setName(used ? m_series[i].name : QString());
        plottable->setVisible(used);
        if (used)
            plottable->addToLegend();
        else
            plottable->removeFromLegend();
    }
    legend->setVisible(m_layers > 0);
    rescale();
}

QVector<double> LayerComparisonPlot::series(int index) const {
    return index >= 0 && index < int(m_series.size()) ? m_series[index].values : QVector<double>{};
}

QString LayerComparisonPlot::toCsv() const {
    const auto quoted = [](QString s) {
        return QLatin1Char('"') + s.replace(QLatin1Char('"'), QStringLiteral("\"\"")) +
               QLatin1Char('"');
    };
    QString csv = QStringLiteral("layer");
    for (const Series& s : m_series) csv += QLatin1Char(',') + quoted(s.name);
    csv += QLatin1Char('\n');
    for (int l = 0; l < m_layers; ++l) {
        csv += QString::number(l);
        for (const Series& s : m_series)
            csv += QLatin1Char(',') + QString::number(s.values[l], 'g', 17);
        csv += QLatin1Char('\n');
    }
    return csv;
}

void LayerComparisonPlot::rescale() {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const Series& s : m_series)
        for (double x : s.values)
            if (std::isfinite(x)) {
                lo = std::min(lo, x);
                hi = std::max(hi, x);
            }
    if (!(lo <= hi)) {
        lo = 0;
        hi = 1;
    }
    if (m_style == Style::Bars) {  // bars grow from zero
        lo = std::min(lo, 0.0);
        hi = std::max(hi, 0.0);
    }
    const double pad = (hi - lo) > 0 ? (hi - lo) * 0.08 : std::max(1e-6, std::abs(hi) * 0.1);
    yAxis->setRange(m_style == Style::Bars && lo == 0.0 ? 0.0 : lo - pad, hi + pad);
    xAxis->setRange(-0.6, std::max(m_layers, 1) - 0.4);
    replot(rpQueuedReplot);
}

void LayerComparisonPlot::setCurrentLayer(int layer) {
    m_band->setVisible(layer >= 0 && layer < m_layers);
    m_band->topLeft->setCoords(layer - 0.5, 0.0);
    m_band->bottomRight->setCoords(layer + 0.5, 1.0);
    replot(rpQueuedReplot);
}

QString LayerComparisonPlot::title() const { return m_title ? m_title->fullText() : QString(); }

QString LayerComparisonPlot::layerText(int layer) const {
    if (layer < 0 || layer >= m_layers) return {};
    QStringList values;
    for (const Series& s : m_series) {
        const double v = s.values.value(layer, std::numeric_limits<double>::quiet_NaN());
        values << QStringLiteral("%1: %2").arg(
            s.name, std::isfinite(v) ? QString::number(v, 'g', 4) : QStringLiteral("–"));
    }
    return tr("layer %1 — %2").arg(layer).arg(values.join(QStringLiteral(", ")));
}

void LayerComparisonPlot::mouseMoveEvent(QMouseEvent* event) {
    QCustomPlot::mouseMoveEvent(event);
    const QPoint pixel = event->position().toPoint();
    const int layer = int(std::floor(xAxis->pixelToCoord(pixel.x()) + 0.5));
    const QString text = axisRect()->rect().contains(pixel) ? layerText(layer) : QString();
    if (text.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(), text, this);
}

void LayerComparisonPlot::mouseReleaseEvent(QMouseEvent* event) {
    QCustomPlot::mouseReleaseEvent(event);
    if (m_layers == 0 || !axisRect()->rect().contains(event->position().toPoint())) return;
    const int layer = int(std::floor(xAxis->pixelToCoord(event->position().x()) + 0.5));
    if (layer >= 0 && layer < m_layers) Q_EMIT layerClicked(layer);
}

}  // namespace gqa
