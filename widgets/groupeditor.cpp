// SPDX-License-Identifier: GPL-3.0-or-later
#include "groupeditor.h"

#include <algorithm>
#include <functional>
#include <limits>

#include <QComboBox>
#include <QCoreApplication>
#include <QDataStream>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QMimeData>
#include <QHeaderView>
#include <QLabel>
#include <QScrollBar>
#include <QSignalBlocker>
#include <QTableWidget>
#include <QVBoxLayout>

namespace gqa {
namespace {
QString groupName(int g) { return QObject::tr("group %1").arg(g); }

/// The item views' own drag format: row, column and item data of each dragged cell.
const QString kItemListMime = QStringLiteral("application/x-qabstractitemmodeldatalist");

/// The head table: a head's number can be dragged onto another head's row, which asks to move
/// the dragged head into that head's group. Nothing in the table itself moves (a copy drop).
class HeadDropTable final : public QTableWidget {
public:
    using Dropped = std::function<void(int draggedHead, int ontoHead)>;
    HeadDropTable(Dropped dropped, QWidget* parent)
        : QTableWidget(0, 2, parent), m_dropped(std::move(dropped)) {
        setDragEnabled(true);
        setAcceptDrops(true);
        viewport()->setAcceptDrops(true);
        setDragDropMode(QAbstractItemView::DragDrop);
        setDefaultDropAction(Qt::CopyAction);  // a move would clear the dragged cell
        setSelectionMode(QAbstractItemView::SingleSelection);
    }

protected:
    void dragEnterEvent(QDragEnterEvent* event) override { acceptHeads(event); }
    void dragMoveEvent(QDragMoveEvent* event) override { acceptHeads(event); }
    void dropEvent(QDropEvent* event) override {
        const int from = draggedRow(event->mimeData());
        const int onto = rowAt(event->position().toPoint().y());
        if (from < 0 || onto < 0) {
            event->ignore();
            return;
        }
        event->setDropAction(Qt::CopyAction);
        event->accept();
        if (from != onto) m_dropped(from, onto);
    }

private:
    static int draggedRow(const QMimeData* mime) {
        if (!mime || !mime->hasFormat(kItemListMime)) return -1;
        QByteArray bytes = mime->data(kItemListMime);
        QDataStream stream(&bytes, QIODevice::ReadOnly);
        int row = -1, column = -1;
        QMap<int, QVariant> data;
        stream >> row >> column >> data;
        return stream.status() == QDataStream::Ok ? row : -1;
    }
    void acceptHeads(QDragMoveEvent* event) {
        if (draggedRow(event->mimeData()) < 0) {
            event->ignore();
            return;
        }
        event->setDropAction(Qt::CopyAction);
        event->accept();
    }

    Dropped m_dropped;
};
}  // namespace

GroupEditor::GroupEditor(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_summary = new QLabel(this);
    m_summary->setObjectName(QStringLiteral("groupSummary"));
    m_summary->setWordWrap(true);
    layout->addWidget(m_summary);
    auto* hint = new QLabel(tr("Pick a head's group, or drag its number onto a head of another "
                               "group: the heads swap, so every group keeps its size."),
                            this);
    hint->setWordWrap(true);
    layout->addWidget(hint);
    m_table =
        new HeadDropTable([this](int head, int onto) { moveHead(head, groupOf(onto)); }, this);
    m_table->setObjectName(QStringLiteral("groupEditorTable"));
    m_table->setHorizontalHeaderLabels({tr("Head"), tr("Group")});
    m_table->verticalHeader()->hide();
    m_table->horizontalHeader()->setSectionResizeMode(0, QHeaderView::ResizeToContents);
    m_table->horizontalHeader()->setSectionResizeMode(1, QHeaderView::Stretch);
    m_table->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_table->setToolTip(
        tr("Choose a head's group, or drag a head's number onto a head of another group."));
    // A few heads always visible: in a short window the pane scrolls instead of squashing the
    // table to a header.
    m_table->setMinimumHeight(m_table->horizontalHeader()->sizeHint().height() +
                              kMinimumVisibleRows *
                                  m_table->verticalHeader()->defaultSectionSize() +
                              2 * m_table->frameWidth());
    layout->addWidget(m_table, 1);
}

void GroupEditor::clear() { setGrouping({}); }

void GroupEditor::setGrouping(const Groups& groups) {
    int heads = 0;
    for (const auto& g : groups) heads += int(g.size());
    if (heads != m_table->rowCount() || groups.size() != m_groups.size()) {
        m_table->setRowCount(heads);
        for (int h = 0; h < heads; ++h) {
            auto* item = new QTableWidgetItem(QString::number(h));
            item->setTextAlignment(Qt::AlignCenter);
            m_table->setItem(h, 0, item);
            auto* combo = new QComboBox(m_table);
            combo->setFocusPolicy(Qt::StrongFocus);  // no focus from the wheel alone
            combo->installEventFilter(this);
            for (int g = 0; g < groups.size(); ++g) combo->addItem(groupName(g));
            connect(combo, &QComboBox::activated, this, [this, h](int target) {
                if (moveHead(h, target) < 0) refresh();  // undo a no-op choice on screen
            });
            m_table->setCellWidget(h, 1, combo);
        }
    }
    m_groups = groups;
    refresh();
}

bool GroupEditor::eventFilter(QObject* watched, QEvent* event) {
    auto* combo = qobject_cast<QComboBox*>(watched);
    if (combo && event->type() == QEvent::Wheel && !combo->hasFocus()) {
        QCoreApplication::sendEvent(m_table->verticalScrollBar(), event);
        return true;
    }
    return QWidget::eventFilter(watched, event);
}

int GroupEditor::groupOf(int head) const {
    for (int g = 0; g < m_groups.size(); ++g)
        if (m_groups[g].contains(head)) return g;
    return -1;
}

int GroupEditor::moveHead(int head, int target) {
    const int source = groupOf(head);
    if (source < 0 || target < 0 || target >= m_groups.size() || source == target) return -1;
    int best = -1;
    double bestScore = -std::numeric_limits<double>::infinity();
    for (int partner : m_groups[target]) {
        Groups trial = m_groups;
        trial[source][trial[source].indexOf(head)] = partner;
        trial[target][trial[target].indexOf(partner)] = head;
        if (!m_scorer) {
            best = partner;
            break;
        }
        const double score = m_scorer(trial);
        if (best < 0 || score > bestScore) {
            best = partner;
            bestScore = score;
        }
    }
    if (best < 0) return -1;
    m_groups[source][m_groups[source].indexOf(head)] = best;
    m_groups[target][m_groups[target].indexOf(best)] = head;
    for (auto& g : m_groups) std::sort(g.begin(), g.end());
    refresh();
    Q_EMIT groupingEdited(m_groups);
    return best;
}

void GroupEditor::refresh() {
    QStringList parts;
    for (int g = 0; g < m_groups.size(); ++g) {
        QStringList members;
        for (int h : m_groups[g]) members << QString::number(h);
        parts << QStringLiteral("%1: {%2}").arg(g).arg(members.join(QStringLiteral(", ")));
    }
    m_summary->setText(m_groups.isEmpty()
                           ? tr("No grouping yet.")
                           : tr("Groups — %1").arg(parts.join(QStringLiteral("  "))));
    for (int h = 0; h < m_table->rowCount(); ++h) {
        auto* combo = qobject_cast<QComboBox*>(m_table->cellWidget(h, 1));
        if (!combo) continue;
        const QSignalBlocker block(combo);
        combo->setCurrentIndex(groupOf(h));
    }
}

}  // namespace gqa
