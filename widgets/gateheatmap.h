// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The gates of a conversion run as a layer x head heatmap (0 = merged, 1 = original head), with a
// slider that scrubs back through the recorded history. While the slider sits at the end it
// follows new updates; moved back, it stays where the user put it. Right-click saves the map as
// PNG/PDF and the shown update's gates as CSV (plotexport.h), as every plot of the studio does.

#include <vector>

#include <QString>
#include <QWidget>

class QCustomPlot;
class QCPColorGradient;
class QCPColorMap;
class QCPTextElement;

namespace gqa {
class WrappingTitle;
}
class QLabel;
class QSlider;

namespace gqa {

class GateHeatmap : public QWidget {
    Q_OBJECT
public:
    /// Fits beside the training plots and settings on a 1024-pixel screen.
    static constexpr int kMinimumWidth = 200;
    static constexpr int kMinimumHeight = 200;

    explicit GateHeatmap(QWidget* parent = nullptr);
    /// The gate colours (thermal, 0 = merged black, 1 = own head white; empty cells
    /// transparent): the studio's map and the report's final gates use it.
    static QCPColorGradient gradient();

    void setShape(int layers, int heads);
    /// Records the gates (layer-major, layers * heads values) of update `step`.
    void appendGates(double step, const std::vector<double>& gates);
    void clear();
    /// Draws the recorded entry `index` (clamped) and moves the slider there.
    void showEntry(int index);
    int entryCount() const { return int(m_history.size()); }
    int shownEntry() const;
    /// The value drawn for (layer, head); NaN when nothing is shown.
    double shownValue(int layer, int head) const;
    QCustomPlot* plot() const { return m_plot; }

    /// The shown update's gates: a header "update,layer,0,1,..." (head indices), then one row per
    /// layer; only the header when nothing is shown.
    QString toCsv() const;
    /// PNG or PDF by the extension / the CSV above; false when the file cannot be written.
    bool saveImage(const QString& path);
    bool saveCsv(const QString& path) const;

private:
    void draw(int index);

    QCustomPlot* m_plot = nullptr;
    QCPColorMap* m_map = nullptr;
    WrappingTitle* m_title = nullptr;
    QSlider* m_slider = nullptr;
    QLabel* m_label = nullptr;
    int m_layers = 0, m_heads = 0;
    std::vector<double> m_steps;
    std::vector<std::vector<double>> m_history;
};

}  // namespace gqa
