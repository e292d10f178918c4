// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The studio's central panel for one model folder: a summary line (folder, tensor count, stored
// bytes, sharding, tokenizer), the problems core found (missing or mis-shaped tensors, in red),
// the configuration with its KV-cache table on the left and the filterable, sortable tensor table
// on the right. Without a model it shows an "Open a model folder…" prompt instead. It only draws
// a ModelSummary; loading is the main window's job.

#include <QStringList>
#include <QWidget>

#include "io/modelsummary.h"

class QLabel;
class QLineEdit;
class QSortFilterProxyModel;
class QPushButton;
class QStackedWidget;
class QTableView;

namespace gqa {

class ModelConfigView;
class TensorTableModel;

class ModelPanel : public QWidget {
    Q_OBJECT
public:
    explicit ModelPanel(QWidget* parent = nullptr);

    void showSummary(const ModelSummary& summary);
    /// Back to the empty "Open a model folder…" state.
    void clear();
    bool hasModel() const;

    /// Plain text of the summary line, e.g. "21 tensors · 108.0 KiB stored · single file · ...".
    QString summaryText() const;
    const QStringList& problems() const { return m_problems; }
    TensorTableModel* tensorModel() const { return m_tensorModel; }
    QSortFilterProxyModel* tensorProxy() const { return m_proxy; }
    QTableView* tensorView() const { return m_tableView; }
    QLineEdit* filterEdit() const { return m_filterEdit; }
    ModelConfigView* configView() const { return m_configView; }

    /// The empty state's "Open the Demo Model" button: shown only when a demo model exists.
    void setDemoAvailable(bool available);
    /// The empty state's list of recently opened model folders (newest first; the first
    /// kShownRecent are shown, folders that are gone disabled).
    void setRecentFolders(const QStringList& folders);
    static constexpr int kShownRecent = 5;

Q_SIGNALS:
    /// The empty state's button was pressed.
    void openFolderRequested();
    void openDemoRequested();
    void recentFolderChosen(const QString& folder);

private:
    QWidget* buildEmptyPage();
    QWidget* buildModelPage();
    QWidget* buildTensorPane();
    void showProblems();
    void updateTensorCount();

    QStackedWidget* m_stack = nullptr;
    QPushButton* m_demoButton = nullptr;
    QWidget* m_recentBox = nullptr;  ///< "Recent models" title and one button per folder
    QLabel* m_titleLabel = nullptr;
    QLabel* m_pathLabel = nullptr;
    QLabel* m_summaryLabel = nullptr;
    QLabel* m_problemsLabel = nullptr;
    ModelConfigView* m_configView = nullptr;
    TensorTableModel* m_tensorModel = nullptr;
    QSortFilterProxyModel* m_proxy = nullptr;
    QTableView* m_tableView = nullptr;
    QLineEdit* m_filterEdit = nullptr;
    QLabel* m_countLabel = nullptr;
    QStringList m_problems;
};

}  // namespace gqa
