// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A live training plot: several named series against the update number, each drawn twice, the
// raw values faint and an exponential moving average bold (TensorBoard's convention), with the
// smoothing adjustable at any time. Points are appended in batches and the plot is redrawn with a
// queued replot, so 100,000 points per curve stay responsive (QCustomPlot's adaptive sampling
// draws only what the pixels can show). A second, "compared" run can be overlaid dashed.
//
// The smoothing never spans more than a tenth of the points drawn so far (kRunFractionPerWindow):
// EMA 0.90 averages over ~10 updates, which on a 30-update run drew the curve late by a third of
// the run. The legend sits below the plot, so it never hides a curve, and shows readable labels.
// Hovering shows every series' value at the update under the pointer. Saves as PNG or PDF, and
// its data as CSV.

#include <QHash>
#include <QString>
#include <QVector>
#include <QWidget>

class QCustomPlot;
class QCPGraph;
class QMouseEvent;
class QResizeEvent;

namespace gqa {

class LivePlot : public QWidget {
    Q_OBJECT
public:
    /// Small enough that four plots and the gate map fit beside the settings on a 1024-pixel
    /// screen, large enough to read a curve.
    static constexpr int kMinimumWidth = 180;
    static constexpr int kMinimumHeight = 150;

    explicit LivePlot(const QString& title, QWidget* parent = nullptr);

    /// At most this fraction of the points drawn so far lies within the EMA's window 1/(1 - w).
    static constexpr double kRunFractionPerWindow = 0.1;

    /// Adds a series (no-op when it exists); `compared` series are drawn dashed, without EMA.
    /// `label` is the legend's text (default: the name, which stays the series' key).
    void addSeries(const QString& name, const QColor& color, bool compared = false,
                   const QString& label = QString());
    /// Appends points (x ascending) to a series created before.
    void append(const QString& name, const QVector<double>& x, const QVector<double>& y);
    void clearData();
    /// EMA weight of the past, in [0, 1): 0 = no smoothing.
    void setSmoothing(double weight);
    double smoothing() const { return m_smoothing; }
    /// The weight used for a series of `points` points: the smoothing, capped so that the window
    /// is at most kRunFractionPerWindow of the points.
    double effectiveSmoothing(int points) const;
    QString legendLabel(const QString& name) const;
    void setLogScale(bool on);
    /// Rescales the axes and schedules a redraw (call once per batch of appends).
    void refresh();

    bool hasSeries(const QString& name) const { return m_series.contains(name); }
    int pointCount(const QString& name) const;
    /// The smoothed values of a series (as drawn).
    QVector<double> smoothedValues(const QString& name) const;
    QCustomPlot* plot() const { return m_plot; }
    /// The tooltip at an update: "update 12 — loss 2.31 (smoothed 2.40), KL 0.12 (…)", each
    /// series at its last point at or before `update`; empty before the first point.
    QString pointText(double update) const;

    bool saveImage(const QString& path);  ///< .png or .pdf by suffix
    bool saveCsv(const QString& path) const;

private:
    struct Series {
        QCPGraph* raw = nullptr;
        QCPGraph* smooth = nullptr;
        QVector<double> x, y;
        double ema = 0.0;
        double weight = -1.0;  ///< the effective smoothing the drawn curve was computed with
        bool compared = false;
    };
    void rebuildSmoothed(Series& s);
    void showContextMenu(const QPoint& pos);
    void showPointTip(QMouseEvent* event);
    /// Two legend labels per row when they fit the width, else one (no label is cut).
    void fitLegendColumns();

protected:
    void resizeEvent(QResizeEvent* event) override;

private:
    QCustomPlot* m_plot = nullptr;
    QHash<QString, Series> m_series;
    QStringList m_order;
    double m_smoothing = 0.9;
};

}  // namespace gqa
