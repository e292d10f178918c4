// SPDX-License-Identifier: GPL-3.0-or-later
#include "gateheatmap.h"
#include "titlewrap.h"

#include <cmath>
#include <limits>

#include <QHBoxLayout>
#include <QLabel>
#include <QLocale>
#include <QSlider>
#include <QVBoxLayout>
#include <qcustomplot.h>

#include "plotexport.h"

namespace gqa {

QCPColorGradient GateHeatmap::gradient() {
    QCPColorGradient gradient(QCPColorGradient::gpThermal);
    // Cells without a value yet (before the first update) are empty, not black: black is what
    // the thermal gradient gives a closed gate, 0 = merged.
    gradient.setNanHandling(QCPColorGradient::nhTransparent);
    return gradient;
}
namespace {
/// Shortest text that reads back as the same double (exact, and 0.1 stays "0.1").
constexpr int kShortest = QLocale::FloatingPointShortest;
}  // namespace

GateHeatmap::GateHeatmap(QWidget* parent) : QWidget(parent) {
    m_plot = new QCustomPlot(this);
    m_plot->plotLayout()->insertRow(0);
    m_title = new WrappingTitle(m_plot, tr("Gates\n1 = own head, 0 = merged"),
                                QFont("sans", 9, QFont::Bold));
    m_plot->plotLayout()->addElement(0, 0, m_title);
    m_map = new QCPColorMap(m_plot->xAxis, m_plot->yAxis);
    auto* scale = new QCPColorScale(m_plot);
    m_plot->plotLayout()->addElement(1, 1, scale);
    m_map->setColorScale(scale);
    m_map->setGradient(gradient());
    m_map->setDataRange(QCPRange(0.0, 1.0));
    m_map->setInterpolate(false);
    m_plot->xAxis->setLabel(tr("head"));
    m_plot->yAxis->setLabel(tr("layer"));
    for (QCPAxis* axis : {m_plot->xAxis, m_plot->yAxis}) {  // ticks on cell centres only
        auto ticker = QSharedPointer<QCPAxisTickerFixed>::create();
        ticker->setTickStep(1.0);
        ticker->setScaleStrategy(QCPAxisTickerFixed::ssMultiples);
        axis->setTicker(ticker);
        axis->setSubTicks(false);
    }
    m_plot->yAxis->setRangeReversed(true);
    auto* margins = new QCPMarginGroup(m_plot);
    m_plot->axisRect()->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    scale->setMarginGroup(QCP::msBottom | QCP::msTop, margins);
    addExportMenu(m_plot, [this] { return toCsv(); });

    m_slider = new QSlider(Qt::Horizontal, this);
    m_slider->setObjectName(QStringLiteral("gateHistorySlider"));
    m_slider->setRange(0, 0);
    m_label = new QLabel(tr("no gates yet"), this);
    connect(m_slider, &QSlider::valueChanged, this, &GateHeatmap::draw);

    auto* row = new QHBoxLayout;
    row->addWidget(m_slider, 1);
    row->addWidget(m_label);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot, 1);
    layout->addLayout(row);
    setMinimumSize(kMinimumWidth, kMinimumHeight);
}

void GateHeatmap::setShape(int layers, int heads) {
    m_layers = layers;
    m_heads = heads;
    m_map->data()->setSize(heads, layers);
    m_map->data()->setRange(QCPRange(0, heads - 1), QCPRange(0, layers - 1));
    m_plot->xAxis->setRange(-0.5, heads - 0.5);
    m_plot->yAxis->setRange(-0.5, layers - 0.5);
    clear();
}

void GateHeatmap::clear() {
    m_steps.clear();
    m_history.clear();
    m_slider->setRange(0, 0);
    m_map->data()->fill(std::numeric_limits<double>::quiet_NaN());
    m_label->setText(tr("no gates yet"));
    m_title->setFullText(tr("Gates\n1 = own head, 0 = merged"));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void GateHeatmap::appendGates(double step, const std::vector<double>& gates) {
    if (m_layers == 0 || int(gates.size()) != m_layers * m_heads) return;
    const bool following = m_history.empty() || m_slider->value() == int(m_history.size()) - 1;
    m_steps.push_back(step);
    m_history.push_back(gates);
    const QSignalBlocker block(m_slider);
    m_slider->setRange(0, int(m_history.size()) - 1);
    if (following) {
        m_slider->setValue(int(m_history.size()) - 1);
        draw(int(m_history.size()) - 1);
    }
}

void GateHeatmap::showEntry(int index) {
    if (m_history.empty()) return;
    index = std::clamp(index, 0, int(m_history.size()) - 1);
    const QSignalBlocker block(m_slider);
    m_slider->setValue(index);
    draw(index);
}

int GateHeatmap::shownEntry() const { return m_history.empty() ? -1 : m_slider->value(); }

double GateHeatmap::shownValue(int layer, int head) const {
    if (m_history.empty()) return std::numeric_limits<double>::quiet_NaN();
    return m_map->data()->cell(head, layer);
}

QString GateHeatmap::toCsv() const {
    QString csv = QStringLiteral("update,layer");
    for (int h = 0; h < m_heads; ++h) csv += QLatin1Char(',') + QString::number(h);
    csv += QLatin1Char('\n');
    const int shown = shownEntry();
    if (shown < 0) return csv;
    const std::vector<double>& g = m_history[std::size_t(shown)];
    const QString step = QString::number(m_steps[std::size_t(shown)], 'g', kShortest);
    for (int l = 0; l < m_layers; ++l) {
        csv += step + QLatin1Char(',') + QString::number(l);
        for (int h = 0; h < m_heads; ++h)
            csv +=
                QLatin1Char(',') + QString::number(g[std::size_t(l * m_heads + h)], 'g', kShortest);
        csv += QLatin1Char('\n');
    }
    return csv;
}

bool GateHeatmap::saveImage(const QString& path) { return savePlotImage(m_plot, path); }

bool GateHeatmap::saveCsv(const QString& path) const { return saveText(path, toCsv()); }

void GateHeatmap::draw(int index) {
    if (index < 0 || index >= int(m_history.size())) return;
    const std::vector<double>& g = m_history[std::size_t(index)];
    for (int l = 0; l < m_layers; ++l)
        for (int h = 0; h < m_heads; ++h)
            m_map->data()->setCell(h, l, g[std::size_t(l * m_heads + h)]);
    double mean = 0.0;
    for (double v : g) mean += v;
    mean /= double(std::max<std::size_t>(1, g.size()));
    m_label->setText(
        tr("update %1, mean gate %2").arg(m_steps[std::size_t(index)]).arg(mean, 0, 'f', 3));
    // In the plot too, so that a saved image says which update it shows.
    m_title->setFullText(
        tr("Gates after update %1\n1 = own head, 0 = merged").arg(m_steps[std::size_t(index)]));
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace gqa
