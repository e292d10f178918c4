// SPDX-License-Identifier: GPL-3.0-or-later
#include "heatmapgrid.h"

#include <algorithm>
#include <cmath>

#include <QGridLayout>
#include <QVBoxLayout>

#include "headheatmap.h"

namespace gqa {
namespace {
constexpr int kMinMapSide = 150;
}

HeatmapGrid::HeatmapGrid(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(4, 4, 4, 4);
    m_bar = new QCustomPlot(this);
    m_bar->plotLayout()->clear();
    m_scale = new QCPColorScale(m_bar);
    m_scale->setType(QCPAxis::atBottom);
    m_scale->setBarWidth(10);
    m_scale->setGradient(HeadHeatmap::gradient());
    m_bar->plotLayout()->addElement(0, 0, m_scale);
    m_bar->setFixedHeight(62);
    m_bar->setMaximumWidth(520);
    layout->addWidget(m_bar);
    m_grid = new QGridLayout;
    m_grid->setSpacing(6);
    layout->addLayout(m_grid, 1);
}

void HeatmapGrid::setColorBarLabel(const QString& label) {
    m_scale->axis()->setLabel(label);
    m_bar->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapGrid::clear() {
    for (HeadHeatmap* map : m_maps) delete map;
    m_maps.clear();
}

void HeatmapGrid::setMatrices(const QVector<QVector<double>>& matrices, int n,
                              const QStringList& titles, const std::optional<QCPRange>& range) {
    const int layers = int(matrices.size());
    if (layers != m_maps.size()) {
        clear();
        const int columns = std::max(1, int(std::ceil(std::sqrt(double(layers) * 1.5))));
        for (int l = 0; l < layers; ++l) {
            auto* map = new HeadHeatmap(this);
            map->setCompact(true);
            map->setColorBarVisible(false);
            map->setMinimumSize(kMinMapSide, kMinMapSide);
            map->setCursor(Qt::PointingHandCursor);
            map->setToolTip(tr("Click to open layer %1").arg(l));
            connect(map, &HeadHeatmap::clicked, this, [this, l] { Q_EMIT layerActivated(l); });
            m_grid->addWidget(map, l / columns, l % columns);
            m_maps << map;
        }
    }
    bool first = true;
    for (int l = 0; l < layers; ++l) {
        m_maps[l]->setMatrix(matrices[l], n);
        m_maps[l]->setTitle(titles.value(l, tr("layer %1").arg(l)));
        const QCPRange r = m_maps[l]->autoColorRange();
        m_range =
            first ? r
                  : QCPRange(std::min(m_range.lower, r.lower), std::max(m_range.upper, r.upper));
        first = false;
    }
    if (range) m_range = *range;
    for (HeadHeatmap* map : m_maps) map->setColorRange(m_range);
    m_scale->setDataRange(m_range);
    m_bar->replot(QCustomPlot::rpQueuedReplot);
}

void HeatmapGrid::setGroups(const QVector<QVector<QVector<int>>>& groupsPerLayer) {
    for (int l = 0; l < m_maps.size(); ++l) {
        const auto groups = groupsPerLayer.value(l);
        if (groups.isEmpty())
            m_maps[l]->setHeadOrder({});
        else
            m_maps[l]->setGroups(groups);
    }
}

void HeatmapGrid::setCurrentLayer(int layer) {
    for (int l = 0; l < m_maps.size(); ++l) {
        QPen pen = m_maps[l]->xAxis2->basePen();
        pen.setWidthF(l == layer ? 3.0 : 1.0);
        pen.setColor(l == layer ? QColor(0x1f, 0x5f, 0xbf) : QColor(Qt::black));
        for (QCPAxis* axis :
             {m_maps[l]->xAxis, m_maps[l]->yAxis, m_maps[l]->xAxis2, m_maps[l]->yAxis2})
            axis->setBasePen(pen);
        m_maps[l]->replot(QCustomPlot::rpQueuedReplot);
    }
}

}  // namespace gqa
