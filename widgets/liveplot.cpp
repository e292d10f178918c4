// SPDX-License-Identifier: GPL-3.0-or-later
#include "liveplot.h"
#include "titlewrap.h"

#include <algorithm>

#include <QFile>
#include <QFileDialog>
#include <QMenu>
#include <QTextStream>
#include <QToolTip>
#include <QVBoxLayout>
#include <qcustomplot.h>

namespace gqa {

LivePlot::LivePlot(const QString& title, QWidget* parent) : QWidget(parent) {
    m_plot = new QCustomPlot(this);
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(m_plot);
    m_plot->plotLayout()->insertRow(0);
    m_plot->plotLayout()->addElement(
        0, 0, new WrappingTitle(m_plot, title, QFont("sans", 9, QFont::Bold)));
    m_plot->xAxis->setLabel(tr("update"));
    m_plot->legend->setVisible(true);
    m_plot->legend->setFont(QFont("sans", 8));
    // Below the axes, one row that wraps: a legend inside the axis rect covered the curves.
    m_plot->axisRect()->insetLayout()->take(m_plot->legend);
    m_plot->plotLayout()->addElement(2, 0, m_plot->legend);
    m_plot->plotLayout()->setRowStretchFactor(2, 0.001);
    m_plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst);
    m_plot->legend->setWrap(2);  // two labels per row fit a plot a quarter of the window wide
    m_plot->legend->setBorderPen(Qt::NoPen);
    m_plot->legend->setMargins(QMargins(2, 0, 2, 0));
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_plot, &QWidget::customContextMenuRequested, this, &LivePlot::showContextMenu);
    connect(m_plot, &QCustomPlot::mouseMove, this, &LivePlot::showPointTip);
    setMinimumSize(kMinimumWidth, kMinimumHeight);
}

QString LivePlot::pointText(double update) const {
    QStringList parts;
    double shownUpdate = 0.0;
    for (const QString& name : m_order) {
        const Series& s = m_series[name];
        const auto after = std::upper_bound(s.x.begin(), s.x.end(), update);
        if (after == s.x.begin()) continue;
        const int i = int(after - s.x.begin()) - 1;
        shownUpdate = std::max(shownUpdate, s.x[i]);
        QString text = QStringLiteral("%1 %2").arg(legendLabel(name)).arg(s.y[i], 0, 'g', 4);
        if (s.smooth && i < s.smooth->data()->size())
            text +=
                tr(" (smoothed %1)").arg((s.smooth->data()->constBegin() + i)->value, 0, 'g', 4);
        parts << text;
    }
    if (parts.isEmpty()) return {};
    return tr("update %1 — %2").arg(shownUpdate).arg(parts.join(QStringLiteral(", ")));
}

void LivePlot::resizeEvent(QResizeEvent* event) {
    QWidget::resizeEvent(event);
    fitLegendColumns();
}

void LivePlot::fitLegendColumns() {
    const QFontMetrics metrics(m_plot->legend->font());
    int widest = 0;
    for (int i = 0; i < m_plot->legend->itemCount(); ++i)
        if (auto* item = qobject_cast<QCPPlottableLegendItem*>(m_plot->legend->item(i)))
            widest = std::max(widest, metrics.horizontalAdvance(item->plottable()->name()));
    // An item is its icon (32 px), the gap to the text (7 px) and the text, plus item margins.
    constexpr int kItemChrome = 32 + 7 + 16;
    const int columns = width() >= 2 * (widest + kItemChrome) + 8 ? 2 : 1;
    if (m_plot->legend->wrap() == columns) return;
    m_plot->legend->setWrap(columns);
    m_plot->legend->setFillOrder(QCPLayoutGrid::foColumnsFirst, true);  // rearranges the items
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

void LivePlot::showPointTip(QMouseEvent* event) {
    const QPoint pixel = event->position().toPoint();
    const QString text = m_plot->axisRect()->rect().contains(pixel)
                             ? pointText(m_plot->xAxis->pixelToCoord(pixel.x()))
                             : QString();
    if (text.isEmpty())
        QToolTip::hideText();
    else
        QToolTip::showText(event->globalPosition().toPoint(), text, m_plot);
}

void LivePlot::addSeries(const QString& name, const QColor& color, bool compared,
                         const QString& label) {
    if (m_series.contains(name)) return;
    Series s;
    s.compared = compared;
    s.raw = m_plot->addGraph();
    QColor faint = color;
    faint.setAlpha(compared ? 200 : 60);
    QPen rawPen(faint);
    if (compared) rawPen.setStyle(Qt::DashLine);
    s.raw->setPen(rawPen);
    s.raw->setAdaptiveSampling(true);
    const QString shown = label.isEmpty() ? name : label;
    if (compared) {
        s.raw->setName(shown);
    } else {
        s.raw->removeFromLegend();
        s.smooth = m_plot->addGraph();
        s.smooth->setPen(QPen(color, 2));
        s.smooth->setName(shown);
        s.smooth->setAdaptiveSampling(true);
    }
    m_series.insert(name, s);
    m_order << name;
    fitLegendColumns();
}

void LivePlot::append(const QString& name, const QVector<double>& x, const QVector<double>& y) {
    auto it = m_series.find(name);
    if (it == m_series.end() || x.size() != y.size()) return;
    Series& s = *it;
    s.raw->addData(x, y, /*alreadySorted=*/true);
    s.x += x;
    s.y += y;
    if (!s.smooth) return;
    // While the run is short the window grows with it: redraw the whole curve.
    if (effectiveSmoothing(int(s.x.size())) != s.weight) {
        rebuildSmoothed(s);
        return;
    }
    QVector<double> smoothed;
    smoothed.reserve(y.size());
    for (int i = 0; i < y.size(); ++i) {
        const bool first = s.x.size() - y.size() + i == 0;
        s.ema = first ? y[i] : s.weight * s.ema + (1.0 - s.weight) * y[i];
        smoothed << s.ema;
    }
    s.smooth->addData(x, smoothed, true);
}

double LivePlot::effectiveSmoothing(int points) const {
    // Window 1 / (1 - w) <= fraction * points  <=>  w <= 1 - 1 / (fraction * points).
    const double windowCap = kRunFractionPerWindow * points;
    if (windowCap <= 1.0) return 0.0;
    return std::min(m_smoothing, 1.0 - 1.0 / windowCap);
}

QString LivePlot::legendLabel(const QString& name) const {
    const auto it = m_series.find(name);
    if (it == m_series.end()) return {};
    return (it->smooth ? it->smooth : it->raw)->name();
}

void LivePlot::rebuildSmoothed(Series& s) {
    if (!s.smooth) return;
    s.weight = effectiveSmoothing(int(s.x.size()));
    QVector<double> smoothed;
    smoothed.reserve(s.y.size());
    for (int i = 0; i < s.y.size(); ++i) {
        s.ema = i == 0 ? s.y[i] : s.weight * s.ema + (1.0 - s.weight) * s.y[i];
        smoothed << s.ema;
    }
    s.smooth->setData(s.x, smoothed, true);
}

void LivePlot::clearData() {
    for (Series& s : m_series) {
        s.raw->data()->clear();
        if (s.smooth) s.smooth->data()->clear();
        s.x.clear();
        s.y.clear();
        s.ema = 0.0;
        s.weight = -1.0;
    }
    refresh();
}

void LivePlot::setSmoothing(double weight) {
    m_smoothing = std::clamp(weight, 0.0, 0.999);
    for (Series& s : m_series) rebuildSmoothed(s);
    refresh();
}

void LivePlot::setLogScale(bool on) {
    m_plot->yAxis->setScaleType(on ? QCPAxis::stLogarithmic : QCPAxis::stLinear);
    if (on)
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTickerLog>(new QCPAxisTickerLog));
    else
        m_plot->yAxis->setTicker(QSharedPointer<QCPAxisTicker>(new QCPAxisTicker));
}

void LivePlot::refresh() {
    m_plot->rescaleAxes();
    m_plot->replot(QCustomPlot::rpQueuedReplot);
}

int LivePlot::pointCount(const QString& name) const {
    const auto it = m_series.find(name);
    return it == m_series.end() ? 0 : it->x.size();
}

QVector<double> LivePlot::smoothedValues(const QString& name) const {
    QVector<double> out;
    const auto it = m_series.find(name);
    if (it == m_series.end()) return out;
    const QCPGraph* g = it->smooth ? it->smooth : it->raw;
    for (auto p = g->data()->constBegin(); p != g->data()->constEnd(); ++p) out << p->value;
    return out;
}

bool LivePlot::saveImage(const QString& path) {
    return path.endsWith(QLatin1String(".pdf"), Qt::CaseInsensitive) ? m_plot->savePdf(path)
                                                                     : m_plot->savePng(path);
}

bool LivePlot::saveCsv(const QString& path) const {
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate | QIODevice::Text)) return false;
    QTextStream out(&file);
    out << "series,update,value\n";
    for (const QString& name : m_order) {
        const Series& s = m_series[name];
        for (int i = 0; i < s.x.size(); ++i)
            out << name << ',' << s.x[i] << ',' << QString::number(s.y[i], 'g', 10) << '\n';
    }
    return out.status() == QTextStream::Ok;
}

void LivePlot::showContextMenu(const QPoint& pos) {
    QMenu menu(this);
    menu.addAction(tr("Save image (PNG/PDF)…"), this, [this] {
        const QString path = QFileDialog::getSaveFileName(this, tr("Save plot"), QString(),
                                                          tr("Images (*.png *.pdf)"));
        if (!path.isEmpty()) saveImage(path);
    });
    menu.addAction(tr("Save data (CSV)…"), this, [this] {
        const QString path =
            QFileDialog::getSaveFileName(this, tr("Save data"), QString(), tr("CSV (*.csv)"));
        if (!path.isEmpty()) saveCsv(path);
    });
    menu.addAction(tr("Reset view"), this, [this] { refresh(); });
    menu.exec(m_plot->mapToGlobal(pos));
}

}  // namespace gqa
