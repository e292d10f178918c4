// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Small multiples: one compact HeadHeatmap per layer in a grid, all on one colour scale (the
// min..max of every layer's off-diagonal values, or a range the caller shares between several
// sets of matrices), so that layers can be compared at a glance.
// A horizontal colour bar above the grid gives the scale. Clicking a map emits
// layerActivated(layer), which the similarity panel uses to open that layer.

#include <optional>

#include <QStringList>
#include <QVector>
#include <QWidget>

#include <qcustomplot.h>

class QGridLayout;

namespace gqa {

class HeadHeatmap;

class HeatmapGrid : public QWidget {
    Q_OBJECT
public:
    explicit HeatmapGrid(QWidget* parent = nullptr);

    /// One n x n row-major matrix per layer; titles default to "layer 0", "layer 1", ...
    /// `range`: the colour range of every map; unset, the min..max of these matrices. Give it to
    /// keep one scale while switching between sets (before and after alignment).
    void setMatrices(const QVector<QVector<double>>& matrices, int n,
                     const QStringList& titles = {},
                     const std::optional<QCPRange>& range = std::nullopt);
    /// Per-layer groups to outline (and order heads by); empty entries clear a layer's outlines.
    void setGroups(const QVector<QVector<QVector<int>>>& groupsPerLayer);
    void clear();
    int count() const { return int(m_maps.size()); }
    HeadHeatmap* map(int layer) const { return m_maps.value(layer); }
    /// The shared colour range of all maps.
    QCPRange colorRange() const { return m_range; }
    /// Marks the current layer's map (a thicker frame).
    void setCurrentLayer(int layer);
    void setColorBarLabel(const QString& label);

Q_SIGNALS:
    void layerActivated(int layer);

private:
    QCustomPlot* m_bar = nullptr;
    QCPColorScale* m_scale = nullptr;
    QGridLayout* m_grid = nullptr;
    QVector<HeadHeatmap*> m_maps;
    QCPRange m_range;
};

}  // namespace gqa
