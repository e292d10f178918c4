// SPDX-License-Identifier: GPL-3.0-or-later
#include "liveplot.h"

#include <QFile>
#include <QFileDialog>
#include <QMenu>
#include <QTextStream>
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
        0, 0, new QCPTextElement(m_plot, title, QFont("sans", 9, QFont::Bold)));
    m_plot->xAxis->setLabel(tr("update"));
    m_plot->legend->setVisible(true);
    m_plot->legend->setFont(QFont("sans", 8));
    m_plot->axisRect()->insetLayout()->setInsetAlignment(0, Qt::AlignTop | Qt::AlignRight);
    m_plot->setInteractions(QCP::iRangeDrag | QCP::iRangeZoom);
    m_plot->setContextMenuPolicy(Qt::CustomContextMenu);
    connect(m_plot, &QWidget::customContextMenuRequested, this, &LivePlot::showContextMenu);
    setMinimumSize(240, 160);
}

void LivePlot::addSeries(const QString& name, const QColor& color, bool compared) {
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
    if (compared) {
        s.raw->setName(name);
    } else {
        s.raw->removeFromLegend();
        s.smooth = m_plot->addGraph();
        s.smooth->setPen(QPen(color, 2));
        s.smooth->setName(name);
        s.smooth->setAdaptiveSampling(true);
    }
    m_series.insert(name, s);
    m_order << name;
}

void LivePlot::append(const QString& name, const QVector<double>& x, const QVector<double>& y) {
    auto it = m_series.find(name);
    if (it == m_series.end() || x.size() != y.size()) return;
    Series& s = *it;
    s.raw->addData(x, y, /*alreadySorted=*/true);
    s.x += x;
    s.y += y;
    if (!s.smooth) return;
    QVector<double> smoothed;
    smoothed.reserve(y.size());
    for (int i = 0; i < y.size(); ++i) {
        const bool first = s.x.size() - y.size() + i == 0;
        s.ema = first ? y[i] : m_smoothing * s.ema + (1.0 - m_smoothing) * y[i];
        smoothed << s.ema;
    }
    s.smooth->addData(x, smoothed, true);
}

void LivePlot::rebuildSmoothed(Series& s) {
    if (!s.smooth) return;
    QVector<double> smoothed;
    smoothed.reserve(s.y.size());
    for (int i = 0; i < s.y.size(); ++i) {
        s.ema = i == 0 ? s.y[i] : m_smoothing * s.ema + (1.0 - m_smoothing) * s.y[i];
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
