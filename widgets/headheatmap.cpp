// SPDX-License-Identifier: GPL-3.0-or-later
#include "headheatmap.h"
#include "titlewrap.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include <QMouseEvent>
#include <QToolTip>

#include "plotexport.h"

namespace gqa {
namespace {
// Room left beside a wrapped title (pixels), so that its longest line never touches the edge.
constexpr int kTitlePadding = 12;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
const QColor kDiagonalColor(0xd9, 0xd9, 0xd9);
const QColor kOutlineColor(0xff, 0x1f, 0x5b);  // a crimson that stands out on all of viridis
constexpr int kMaxTickLabels = 16;

// Viridis (matplotlib), sampled at nine stops: perceptually uniform and colour-blind safe.
QCPColorGradient viridis() {
    QCPColorGradient g;
    g.clearColorStops();
    const QColor stops[] = {
        QColor(0x44, 0x01, 0x54), QColor(0x47, 0x2c, 0x7a), QColor(0x3b, 0x51, 0x8b),
        QColor(0x2c, 0x71, 0x8e), QColor(0x21, 0x90, 0x8d), QColor(0x27, 0xad, 0x81),
        QColor(0x5c, 0xc8, 0x63), QColor(0xaa, 0xdc, 0x32), QColor(0xfd, 0xe7, 0x25)};
    const int count = int(std::size(stops));
    for (int i = 0; i < count; ++i) g.setColorStopAt(double(i) / (count - 1), stops[i]);
    g.setColorInterpolation(QCPColorGradient::ciRGB);
    g.setNanHandling(QCPColorGradient::nhNanColor);
    g.setNanColor(kDiagonalColor);
    return g;
}

bool isPermutation(const QVector<int>& order, int n) {
    if (order.size() != n) return false;
    QVector<bool> seen(n, false);
    for (int h : order) {
        if (h < 0 || h >= n || seen[h]) return false;
        seen[h] = true;
    }
    return true;
}

QString formatValue(double v) { return QString::number(v, 'g', 4); }
}  // namespace

QCPColorGradient HeadHeatmap::gradient() { return viridis(); }

HeadHeatmap::HeadHeatmap(QWidget* parent) : QCustomPlot(parent) {
    setMouseTracking(true);
    setInteractions({});
    setNoAntialiasingOnDrag(true);
    connect(this, &QCustomPlot::afterLayout, this, [this] {
        if (applyTitle()) replot(rpQueuedReplot);
    });
    m_map = new QCPColorMap(xAxis, yAxis);
    m_map->setInterpolate(false);
    m_map->setTightBoundary(false);
    m_scale = new QCPColorScale(this);
    m_scale->setType(QCPAxis::atRight);
    m_scale->setBarWidth(12);
    plotLayout()->addElement(0, 1, m_scale);
    m_map->setColorScale(m_scale);
    m_map->setGradient(viridis());
    auto* margins = new QCPMarginGroup(this);
    axisRect()->setMarginGroup(QCP::msTop | QCP::msBottom, margins);
    m_scale->setMarginGroup(QCP::msTop | QCP::msBottom, margins);

    yAxis->setRangeReversed(true);  // row 0 at the top, as matrices are read
    for (QCPAxis* axis : {xAxis, yAxis}) {
        axis->grid()->setVisible(false);
        axis->setSubTicks(false);
        axis->setTickLength(0, 3);
        axis->setTicker(QSharedPointer<QCPAxisTickerText>::create());
    }
    // The top axis carries the title; top and right axes close the frame.
    for (QCPAxis* axis : {xAxis2, yAxis2}) {
        axis->setVisible(true);
        axis->setTicks(false);
        axis->setTickLabels(false);
    }
    QFont titleFont = font();
    titleFont.setBold(true);
    xAxis2->setLabelFont(titleFont);
    xAxis2->setLabelPadding(4);
    xAxis->setLabel(tr("head"));
    yAxis->setLabel(tr("head"));
    connect(this, &QCustomPlot::afterLayout, this, &HeadHeatmap::fitSquare);
    addExportMenu(this, [this] { return toCsv(); });
    clear();
}

void HeadHeatmap::setMatrix(const QVector<double>& values, int n, const QStringList& labels) {
    if (n <= 0 || values.size() != n * n) {
        clear();
        return;
    }
    m_values = values;
    m_n = n;
    m_labels = labels;
    if (m_labels.size() != n) {
        m_labels.clear();
        for (int i = 0; i < n; ++i) m_labels << QString::number(i);
    }
    m_order.clear();
    m_groups.clear();
    rebuild();
    setColorRange(autoColorRange());
}

void HeadHeatmap::clear() {
    m_values.clear();
    m_labels.clear();
    m_order.clear();
    m_groups.clear();
    m_n = 0;
    rebuild();
}

double HeadHeatmap::valueAt(int row, int col) const {
    if (row < 0 || col < 0 || row >= m_n || col >= m_n) return kNaN;
    return m_values[row * m_n + col];
}

void HeadHeatmap::setHeadOrder(const QVector<int>& order) {
    m_groups.clear();
    m_order = isPermutation(order, m_n) ? order : QVector<int>();
    rebuild();
}

void HeadHeatmap::setGroups(const QVector<QVector<int>>& groups) {
    QVector<int> order;
    for (const auto& g : groups) order += g;
    if (groups.isEmpty() || !isPermutation(order, m_n)) {
        m_groups.clear();
    } else {
        m_groups = groups;
        m_order = order;
    }
    rebuild();
}

void HeadHeatmap::rebuild() {
    if (m_order.isEmpty()) {
        for (int i = 0; i < m_n; ++i) m_order << i;
    }
    QCPColorMapData* data = m_map->data();
    data->setSize(std::max(m_n, 1), std::max(m_n, 1));
    data->setRange(QCPRange(0, std::max(m_n - 1, 0)), QCPRange(0, std::max(m_n - 1, 0)));
    data->fill(kNaN);
    for (int r = 0; r < m_n; ++r)
        for (int c = 0; c < m_n; ++c) {
            const int i = m_order[r], j = m_order[c];
            data->setCell(c, r, i == j ? kNaN : m_values[i * m_n + j]);
        }
    m_map->setVisible(m_n > 0);

    for (QCPItemRect* rect : m_outlines) removeItem(rect);
    m_outlines.clear();
    int start = 0;
    for (const auto& group : m_groups) {
        auto* rect = new QCPItemRect(this);
        rect->setClipToAxisRect(false);
        rect->setPen(QPen(kOutlineColor, m_compact ? 1.5 : 2.5));
        rect->setBrush(Qt::NoBrush);
        rect->topLeft->setCoords(start - 0.5, start - 0.5);
        start += int(group.size());
        rect->bottomRight->setCoords(start - 0.5, start - 0.5);
        m_outlines << rect;
    }
    xAxis->setRange(-0.5, m_n - 0.5);
    yAxis->setRange(-0.5, m_n - 0.5);
    updateTicks();
    replot(rpQueuedReplot);
}

void HeadHeatmap::updateTicks() {
    const int step = std::max(1, (m_n + kMaxTickLabels - 1) / kMaxTickLabels);
    for (QCPAxis* axis : {xAxis, yAxis}) {
        auto ticker = axis->ticker().dynamicCast<QCPAxisTickerText>();
        if (!ticker) continue;
        ticker->clear();
        for (int p = 0; p < m_n; p += step) ticker->addTick(p, m_labels.value(m_order[p]));
        axis->setTickLabels(!m_compact);
        axis->setTicks(!m_compact);
    }
}

// Keeps cells square: the axis rect's inner size is capped at its smaller side, so the matrix
// sits in the top-left corner next to its colour bar instead of being stretched.
void HeadHeatmap::fitSquare() {
    QCPAxisRect* rect = axisRect();
    rect->setMaximumSize(QWIDGETSIZE_MAX, QWIDGETSIZE_MAX);
    plotLayout()->update(QCPLayoutElement::upLayout);
    const int side = std::max(1, std::min(rect->rect().width(), rect->rect().height()));
    rect->setMaximumSize(side, side);
    plotLayout()->update(QCPLayoutElement::upLayout);
}

void HeadHeatmap::setColorRange(const QCPRange& range) {
    m_scale->setDataRange(range);
    m_map->setDataRange(range);
    replot(rpQueuedReplot);
}

QCPRange HeadHeatmap::colorRange() const { return m_map->dataRange(); }

QCPRange HeadHeatmap::autoColorRange() const { return offDiagonalRange(m_values, m_n); }

QCPRange HeadHeatmap::offDiagonalRange(const QVector<double>& values, int n) {
    double lo = std::numeric_limits<double>::infinity(), hi = -lo;
    for (int i = 0; i < n && values.size() >= n * n; ++i)
        for (int j = 0; j < n; ++j) {
            const double v = values[i * n + j];
            if (i == j || !std::isfinite(v)) continue;
            lo = std::min(lo, v);
            hi = std::max(hi, v);
        }
    if (!(lo <= hi)) return QCPRange(0, 1);
    if (hi - lo < 1e-12) {
        const double pad = std::max(1e-6, std::abs(hi) * 0.01);
        return QCPRange(lo - pad, hi + pad);
    }
    return QCPRange(lo, hi);
}

void HeadHeatmap::setColorBarVisible(bool visible, bool keepSpace) {
    const bool inLayout = visible || keepSpace;
    if (inLayout != m_colorBarInLayout) {
        if (inLayout) {
            plotLayout()->addElement(0, 1, m_scale);
        } else {
            plotLayout()->take(m_scale);
            plotLayout()->simplify();
        }
        m_colorBarInLayout = inLayout;
    }
    m_colorBarVisible = visible;
    m_scale->setVisible(visible);
    replot(rpQueuedReplot);
}

void HeadHeatmap::setColorBarLabel(const QString& label) { m_scale->axis()->setLabel(label); }

void HeadHeatmap::setTitle(const QString& title) {
    m_title = title;
    applyTitle();
    replot(rpQueuedReplot);
}

QString HeadHeatmap::title() const { return m_title; }

bool HeadHeatmap::applyTitle() {
    // The title is centred over the matrix, which sits right of the head labels: it may spread
    // twice the distance from that centre to the nearer edge of the widget.
    const QRect matrix = axisRect()->rect();
    const int centre = matrix.isValid() ? matrix.center().x() : width() / 2;
    const int room = 2 * std::min(centre, width() - centre) - kTitlePadding;
    const QString shown = wrapToWidth(m_title, xAxis2->labelFont(), room);
    if (shown == xAxis2->label()) return false;
    xAxis2->setLabel(shown);
    return true;
}

void HeadHeatmap::setCompact(bool compact) {
    m_compact = compact;
    xAxis->setLabel(compact ? QString() : tr("head"));
    yAxis->setLabel(compact ? QString() : tr("head"));
    axisRect()->setAutoMargins(compact ? QCP::msTop : QCP::msAll);
    if (compact) axisRect()->setMargins(QMargins(2, 0, 2, 2));
    rebuild();
}

std::optional<std::pair<int, int>> HeadHeatmap::cellAt(const QPointF& pixel) const {
    if (m_n == 0) return std::nullopt;
    const double x = xAxis->pixelToCoord(pixel.x());
    const double y = yAxis->pixelToCoord(pixel.y());
    const int col = int(std::floor(x + 0.5));
    const int row = int(std::floor(y + 0.5));
    if (row < 0 || col < 0 || row >= m_n || col >= m_n) return std::nullopt;
    return std::make_pair(m_order[row], m_order[col]);
}

QString HeadHeatmap::cellText(int row, int col) const {
    if (row < 0 || col < 0 || row >= m_n || col >= m_n) return {};
    if (row == col) return tr("head %1 (itself)").arg(m_labels.value(row));
    return tr("head %1 × head %2: %3")
        .arg(m_labels.value(row), m_labels.value(col), formatValue(valueAt(row, col)));
}

QString HeadHeatmap::toCsv() const {
    QString csv = QStringLiteral("head");
    for (const QString& label : m_labels) csv += QLatin1Char(',') + label;
    csv += QLatin1Char('\n');
    for (int i = 0; i < m_n; ++i) {
        csv += m_labels.value(i);
        for (int j = 0; j < m_n; ++j)
            csv += QLatin1Char(',') + QString::number(m_values[i * m_n + j], 'g', 17);
        csv += QLatin1Char('\n');
    }
    return csv;
}

void HeadHeatmap::setHover(const QString& text) {
    if (text == m_hoverText) return;
    m_hoverText = text;
    if (text.isEmpty()) {
        QToolTip::hideText();
        Q_EMIT hoverCleared();
    }
}

void HeadHeatmap::mouseMoveEvent(QMouseEvent* event) {
    QCustomPlot::mouseMoveEvent(event);
    const auto cell = cellAt(event->position());
    if (!cell) {
        setHover({});
        return;
    }
    const auto [row, col] = *cell;
    const QString text = cellText(row, col);
    const bool changed = text != m_hoverText;
    setHover(text);
    if (changed) {
        QToolTip::showText(event->globalPosition().toPoint(), text, this);
        Q_EMIT hovered(row, col, valueAt(row, col));
    }
}

void HeadHeatmap::mouseReleaseEvent(QMouseEvent* event) {
    QCustomPlot::mouseReleaseEvent(event);
    if (event->button() == Qt::LeftButton && rect().contains(event->position().toPoint()))
        Q_EMIT clicked();
}

void HeadHeatmap::leaveEvent(QEvent* event) {
    QCustomPlot::leaveEvent(event);
    setHover({});
}

}  // namespace gqa
