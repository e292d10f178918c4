// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A per-layer comparison of a few series (e.g. mean similarity before vs after alignment, or the
// predicted merge cost of the mean-pool baseline, the aligned mean and the least-squares merge),
// drawn with QCustomPlot as lines with markers or as grouped bars over the layer index, with a
// legend, axis titles and an optional highlighted current layer. Plain values in, no torch. A
// right click saves the image (PNG/PDF) or the data (CSV: layer and every series); hovering a
// layer shows every series' value there as a tooltip.

#include <QString>
#include <QVector>

#include <qcustomplot.h>

namespace gqa {

class WrappingTitle;

class LayerComparisonPlot : public QCustomPlot {
    Q_OBJECT
public:
    enum class Style { Lines, Bars };

    explicit LayerComparisonPlot(Style style, QWidget* parent = nullptr);

    void setTitle(const QString& title);
    QString title() const;
    void setValueLabel(const QString& label);
    /// At most this many series (one colour-blind-safe colour each).
    static constexpr int kMaxSeries = 4;
    struct Series {
        QString name;
        QVector<double> values;  ///< per layer
    };
    /// Series over layers 0..n-1 (shorter ones are padded with NaN). Rescales the value axis.
    void setSeries(const QVector<Series>& series);
    /// Two series (the common case).
    void setSeries(const QString& nameA, const QVector<double>& a, const QString& nameB,
                   const QVector<double>& b);
    void clear();
    /// Marks a layer with a vertical band; -1 removes the mark.
    void setCurrentLayer(int layer);
    /// The values of series `index`, as last set (empty when there is no such series).
    QVector<double> series(int index) const;
    int seriesCount() const { return int(m_series.size()); }
    /// "layer,<name 1>,<name 2>,..." then one row per layer.
    QString toCsv() const;
    /// The tooltip of a layer: "layer 3 — before alignment: -0.123, after alignment: -0.045";
    /// empty outside the layers.
    QString layerText(int layer) const;

Q_SIGNALS:
    /// A click on (or near) layer `layer`.
    void layerClicked(int layer);

protected:
    void mouseReleaseEvent(QMouseEvent* event) override;
    void mouseMoveEvent(QMouseEvent* event) override;

private:
    void rescale();

    Style m_style;
    QVector<QCPGraph*> m_lines;  ///< kMaxSeries, for Style::Lines
    QVector<QCPBars*> m_bars;    ///< kMaxSeries, for Style::Bars
    QCPItemRect* m_band = nullptr;
    WrappingTitle* m_title = nullptr;
    QVector<Series> m_series;
    int m_layers = 0;
};

}  // namespace gqa
