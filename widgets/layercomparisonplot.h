// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A per-layer comparison of two series (e.g. mean similarity before vs after alignment, or the
// predicted merge cost with alignment vs the mean-pool baseline), drawn with QCustomPlot as lines
// with markers or as grouped bars over the layer index, with a legend, axis titles and an optional
// highlighted current layer. Plain values in, no torch. A right click saves the image (PNG/PDF) or
// the data (CSV: layer and both series).

#include <QString>
#include <QVector>

#include <qcustomplot.h>

namespace gqa {

class LayerComparisonPlot : public QCustomPlot {
    Q_OBJECT
public:
    enum class Style { Lines, Bars };

    explicit LayerComparisonPlot(Style style, QWidget* parent = nullptr);

    void setTitle(const QString& title);
    void setValueLabel(const QString& label);
    /// Two series over layers 0..n-1 (the shorter is padded with NaN). Rescales the value axis.
    void setSeries(const QString& nameA, const QVector<double>& a, const QString& nameB,
                   const QVector<double>& b);
    void clear();
    /// Marks a layer with a vertical band; -1 removes the mark.
    void setCurrentLayer(int layer);
    /// The values of series 0 or 1, as last set.
    QVector<double> series(int index) const { return index == 0 ? m_a : m_b; }
    /// "layer,<name A>,<name B>" then one row per layer.
    QString toCsv() const;

Q_SIGNALS:
    /// A click on (or near) layer `layer`.
    void layerClicked(int layer);

protected:
    void mouseReleaseEvent(QMouseEvent* event) override;

private:
    void rescale();

    Style m_style;
    QCPGraph* m_lineA = nullptr;
    QCPGraph* m_lineB = nullptr;
    QCPBars* m_barsA = nullptr;
    QCPBars* m_barsB = nullptr;
    QCPItemRect* m_band = nullptr;
    QCPTextElement* m_title = nullptr;
    QVector<double> m_a, m_b;
    QString m_nameA, m_nameB;
    int m_layers = 0;
};

}  // namespace gqa
