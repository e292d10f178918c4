// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Hand-editing of one layer's grouping: a table with one row per head and a group combo in each
// row; a head's number can also be dragged onto another head, which moves it into that head's
// group. Moving a head to another group swaps it with one member of that group, so every group
// keeps its size (a valid GQA grouping at all times). The member swapped back is the one that gives
// the best score when a scorer is set (the panel passes the core's grouping objective), else the
// target group's first member. Every edit emits groupingEdited with the new groups.
//
// The mouse wheel over a group combo scrolls the table unless that combo has keyboard focus (a
// user scrolling through the heads must not regroup them by passing over a combo).

#include <functional>

#include <QVector>
#include <QWidget>

class QLabel;
class QTableWidget;

namespace gqa {

class GroupEditor : public QWidget {
    Q_OBJECT
public:
    /// Rows of the table kept visible however little room the editor gets.
    static constexpr int kMinimumVisibleRows = 4;

    using Groups = QVector<QVector<int>>;
    using Scorer = std::function<double(const Groups&)>;

    explicit GroupEditor(QWidget* parent = nullptr);

    /// Shows `groups` (a partition of 0..H-1 into equal groups); emits nothing.
    void setGrouping(const Groups& groups);
    Groups grouping() const { return m_groups; }
    void clear();
    /// Higher is better; used to choose whom a moved head swaps with.
    void setScorer(Scorer scorer) { m_scorer = std::move(scorer); }
    /// Group index of `head`, -1 when unknown.
    int groupOf(int head) const;
    /// Moves `head` to group `target` by swapping it with a member of that group; returns that
    /// member, or -1 when nothing changed (same group, bad index). Emits groupingEdited.
    int moveHead(int head, int target);
    QTableWidget* table() const { return m_table; }

Q_SIGNALS:
    void groupingEdited(const QVector<QVector<int>>& groups);

protected:
    bool eventFilter(QObject* watched, QEvent* event) override;

private:
    void refresh();

    QTableWidget* m_table = nullptr;
    QLabel* m_summary = nullptr;
    Groups m_groups;
    Scorer m_scorer;
};

}  // namespace gqa
