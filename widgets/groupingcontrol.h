// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The grouping-ratio control: a slider over the valid numbers of KV heads G (the divisors of the
// head count, most KV heads on the left: 8 = MHA, 4, 2, 1 = MQA on an 8-head model), with a tick
// label per stop and a caption such as "G = 2 KV heads · 4 query heads each (GQA)". Dragging
// emits groupCountChanged(G) at every stop it passes, which the owner answers with a background
// recomputation (LatestJob drops the stale ones).

#include <QVector>
#include <QWidget>

class QLabel;
class QSlider;
class QHBoxLayout;

namespace gqa {

class GroupingControl : public QWidget {
    Q_OBJECT
public:
    explicit GroupingControl(QWidget* parent = nullptr);

    /// `counts`: the valid G values (any order); `heads`: the number of query heads. Selects
    /// `initial` when it is one of them, else the largest G below `heads`. Emits nothing.
    void setCounts(const QVector<int>& counts, int heads, int initial = 0);
    QVector<int> counts() const { return m_counts; }
    /// The selected G (0 when there are no counts).
    int groupCount() const;
    /// Selects G when valid; emits groupCountChanged when the selection changes.
    void setGroupCount(int groups);
    QSlider* slider() const { return m_slider; }
    QString caption() const;

Q_SIGNALS:
    void groupCountChanged(int groups);

private:
    void updateCaption();

    QSlider* m_slider = nullptr;
    QLabel* m_caption = nullptr;
    QHBoxLayout* m_ticks = nullptr;
    QVector<int> m_counts;  ///< descending: slider position p selects m_counts[p]
    int m_heads = 0;
};

}  // namespace gqa
