// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A head x head heatmap (one layer's similarity matrix) drawn with QCustomPlot's QCPColorMap.
//
// It takes plain values: an n x n row-major matrix, optional head labels, an optional head order
// (display position p shows head order[p], e.g. heads reordered so that groups are contiguous) and
// optional groups, which reorder the heads group by group and are outlined as blocks. One cell is
// exactly one head pair (no interpolation, cell centres on integer display positions, square
// cells, row 0 at the top). The diagonal (a head with itself) is drawn grey and left out of the
// automatic colour range, so that the off-diagonal contrast is not swamped.
//
// setColorRange() lets several heatmaps share one scale (before/after alignment must be compared
// on the same colours); each map can show its own colour bar, or hide it when a neighbour shows
// the shared one. The colours are viridis (sequential, colour-blind safe): these are similarities,
// not signed differences.
//
// Hovering shows the exact value and head indices as a tooltip and emits hovered(row, col, value)
// with original head indices; cellAt() is the pure pixel -> head-pair mapping behind it. A right
// click saves the image (PNG/PDF) or the matrix (CSV, original head order).

#include <optional>
#include <utility>

#include <QString>
#include <QStringList>
#include <QVector>

#include <qcustomplot.h>

namespace gqa {

class HeadHeatmap : public QCustomPlot {
    Q_OBJECT
public:
    explicit HeadHeatmap(QWidget* parent = nullptr);

    /// The colour gradient of every heatmap (viridis; the diagonal's grey as its NaN colour).
    static QCPColorGradient gradient();

    /// `values` is n x n, row-major; `labels` names the heads (default "0".."n-1"). Resets the
    /// head order and groups, and sets the colour range to the off-diagonal data range.
    void setMatrix(const QVector<double>& values, int n, const QStringList& labels = {});
    void clear();
    int headCount() const { return m_n; }
    /// Value of the original head pair (row, col); NaN when out of range.
    double valueAt(int row, int col) const;

    /// Display order: position p shows head order[p]. Empty (or not a permutation of 0..n-1):
    /// natural order. Clears the groups.
    void setHeadOrder(const QVector<int>& order);
    QVector<int> headOrder() const { return m_order; }
    /// Groups of original head indices: heads are shown group after group and every group is
    /// outlined. Empty clears the outlines (keeps the order).
    void setGroups(const QVector<QVector<int>>& groups);
    QVector<QVector<int>> groups() const { return m_groups; }

    /// The colour range (shared between heatmaps); autoColorRange() is the off-diagonal min..max.
    void setColorRange(const QCPRange& range);
    QCPRange colorRange() const;
    QCPRange autoColorRange() const;
    /// The off-diagonal min..max of an n x n row-major matrix (autoColorRange of a map showing
    /// it), padded when all values are equal; (0, 1) when there is none.
    static QCPRange offDiagonalRange(const QVector<double>& values, int n);
    /// Shows or hides the colour bar. A hidden bar can keep its space (`keepSpace`), so that a
    /// map next to one that shows the shared bar gets exactly the same size.
    void setColorBarVisible(bool visible, bool keepSpace = false);
    bool colorBarVisible() const { return m_colorBarVisible; }
    void setColorBarLabel(const QString& label);
    /// Title above the map.
    void setTitle(const QString& title);
    QString title() const;
    /// Small-multiple style: no tick labels or axis titles, tighter margins.
    void setCompact(bool compact);

    /// The original head pair (row, col) under a widget pixel, or nothing outside the matrix.
    /// Uses the current axes, so it matches what was last laid out (replot first).
    std::optional<std::pair<int, int>> cellAt(const QPointF& pixel) const;
    /// Tooltip text for a head pair, e.g. "head 3 × head 5: 0.8123".
    QString cellText(int row, int col) const;
    /// The matrix as CSV: a header row of head labels, then one row per head (original order).
    QString toCsv() const;
    /// The text of the last hover ("" when the mouse is off the matrix).
    QString hoverText() const { return m_hoverText; }

Q_SIGNALS:
    /// The mouse is over the cell of original heads (row, col) holding `value`.
    void hovered(int row, int col, double value);
    /// The mouse left the matrix.
    void hoverCleared();
    /// A left click on the map (small multiples open their layer).
    void clicked();

protected:
    void mouseMoveEvent(QMouseEvent* event) override;
    void mouseReleaseEvent(QMouseEvent* event) override;
    void leaveEvent(QEvent* event) override;

private:
    /// Shows m_title wrapped to the room above the matrix (titlewrap.h); true when that changed
    /// the shown text (re-run after every layout, so resizes re-wrap it).
    bool applyTitle();
    void rebuild();
    void updateTicks();
    void fitSquare();
    void setHover(const QString& text);

    QCPColorMap* m_map = nullptr;
    QCPColorScale* m_scale = nullptr;
    QVector<double> m_values;
    QStringList m_labels;
    QVector<int> m_order;
    QVector<QVector<int>> m_groups;
    QVector<QCPItemRect*> m_outlines;
    int m_n = 0;
    bool m_colorBarVisible = true;
    bool m_colorBarInLayout = true;
    bool m_compact = false;
    QString m_title;  ///< the full title; the top axis shows it wrapped
    QString m_hoverText;
};

}  // namespace gqa
