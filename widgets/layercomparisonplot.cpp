// SPDX-License-Identifier: GPL-3.0-or-later
#include "layercomparisonplot.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "plotexport.h"

namespace gqa {
namespace {
// Okabe-Ito blue and orange: distinguishable with every common colour-vision deficiency.
const QColor kColorA(0xe6, 0x9f, 0x00);
const QColor kColorB(0x00, 0x72, 0xb2);
constexpr double kBarWidth = 0.38;

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
    m_title = new QCPTextElement(this, QString(),
                                 QFont(font().family(), font().pointSize(), QFont::Bold));
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

    if (style == Style::Lines) {
        m_lineA = addGraph();
        m_lineB = addGraph();
        m_lineA->setPen(QPen(kColorA, 2));
        m_lineB->setPen(QPen(kColorB, 2));
        m_lineA->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssCircle, kColorA, kColorA, 6));
        m_lineB->setScatterStyle(QCPScatterStyle(QCPScatterStyle::ssSquare, kColorB, kColorB, 6));
    } else {
        m_barsA = new QCPBars(xAxis, yAxis);
        m_barsB = new QCPBars(xAxis, yAxis);
        for (QCPBars* bars : {m_barsA, m_barsB}) bars->setWidth(kBarWidth);
        m_barsA->setPen(QPen(kColorA.darker(130)));
        m_barsA->setBrush(kColorA);
        m_barsB->setPen(QPen(kColorB.darker(130)));
        m_barsB->setBrush(kColorB);
    }
    clear();
    addExportMenu(this, [this] { return toCsv(); });
}

void LayerComparisonPlot::setTitle(const QString& title) {
    m_title->setText(title);
    replot(rpQueuedReplot);
}

void LayerComparisonPlot::setValueLabel(const QString& label) {
    yAxis->setLabel(label);
    replot(rpQueuedReplot);
}

void LayerComparisonPlot::clear() { setSeries(QString(), {}, QString(), {}); }

void LayerComparisonPlot::setSeries(const QString& nameA, const QVector<double>& a,
                                    const QString& nameB, const QVector<double>& b) {
    m_layers = int(std::max(a.size(), b.size()));
    m_nameA = nameA;
    m_nameB = nameB;
    m_a = padded(a, m_layers);
    m_b = padded(b, m_layers);
    QVector<double> keys(m_layers), keysA(m_layers), keysB(m_layers);
    for (int l = 0; l < m_layers; ++l) {
        keys[l] = l;
        keysA[l] = l - kBarWidth / 2;
        keysB[l] = l + kBarWidth / 2;
    }
    if (m_style == Style::Lines) {
        m_lineA->setData(keys, m_a, true);
        m_lineB->setData(keys, m_b, true);
        m_lineA->setName(nameA);
        m_lineB->setName(nameB);
    } else {
        m_barsA->setData(keysA, m_a, true);
        m_barsB->setData(keysB, m_b, true);
        m_barsA->setName(nameA);
        m_barsB->setName(nameB);
    }
    legend->setVisible(m_layers > 0);
    rescale();
}

QString LayerComparisonPlot::toCsv() const {
    const auto quoted = [](QString s) {
        return QLatin1Char('"') + s.replace(QLatin1Char('"'), QStringLiteral("\"\"")) +
               QLatin1Char('"');
    };
    QString csv = QStringLiteral("layer,%1,%2\n").arg(quoted(m_nameA), quoted(m_nameB));
    for (int l = 0; l < m_layers; ++l)
        csv += QStringLiteral("%1,%2,%3\n")
                   .arg(l)
                   .arg(QString::number(m_a[l], 'g', 17), QString::number(m_b[l], 'g', 17));
    return csv;
}

void LayerComparisonPlot::rescale() {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (const auto* v : {&m_a, &m_b})
        for (double x : *v)
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

void LayerComparisonPlot::mouseReleaseEvent(QMouseEvent* event) {
    QCustomPlot::mouseReleaseEvent(event);
    if (m_layers == 0 || !axisRect()->rect().contains(event->position().toPoint())) return;
    const int layer = int(std::floor(xAxis->pixelToCoord(event->position().x()) + 0.5));
    if (layer >= 0 && layer < m_layers) Q_EMIT layerClicked(layer);
}

}  // namespace gqa
