// SPDX-License-Identifier: GPL-3.0-or-later
#include "modelpanel.h"

#include <algorithm>
#include <filesystem>

#include <QDir>
#include <QFileInfo>
#include <QHeaderView>
#include <QLabel>
#include <QLineEdit>
#include <QPushButton>
#include <QScrollArea>
#include <QSortFilterProxyModel>
#include <QSplitter>
#include <QStackedWidget>
#include <QTableView>
#include <QVBoxLayout>

#include "humanformat.h"
#include "modelconfigview.h"
#include "tensortablemodel.h"

namespace gqa {
namespace {
constexpr int kShownProblems = 4;
const QString kSeparator = QStringLiteral("  ·  ");

QString plural(int n, const QString& one, const QString& many) {
    return (n == 1 ? one : many).arg(n);
}
}  // namespace

ModelPanel::ModelPanel(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    m_stack = new QStackedWidget(this);
    m_stack->addWidget(buildEmptyPage());
    m_stack->addWidget(buildModelPage());
    layout->addWidget(m_stack);
    clear();
}

QWidget* ModelPanel::buildEmptyPage() {
    auto* page = new QWidget(this);
    auto* layout = new QVBoxLayout(page);
    layout->addStretch(2);
    auto* title = new QLabel(tr("No model open"), page);
    QFont titleFont = title->font();
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.6);
    title->setFont(titleFont);
    title->setAlignment(Qt::AlignCenter);
    layout->addWidget(title);
    auto* hint = new QLabel(tr("A model folder holds a Hugging Face config.json (Llama, Qwen2, "
                               "Gemma, Phi, StableLM, OLMo or Mistral) and its .safetensors "
                               "weights (one file or shards). Drop one here or:"),
                            page);
    hint->setAlignment(Qt::AlignCenter);
    hint->setWordWrap(true);
    layout->addWidget(hint);
    auto* button = new QPushButton(tr("Open a model folder…"), page);
    button->setObjectName(QStringLiteral("openFolderButton"));
    connect(button, &QPushButton::clicked, this, &ModelPanel::openFolderRequested);
    m_demoButton = new QPushButton(tr("Open the Demo Model"), page);
    m_demoButton->setObjectName(QStringLiteral("openDemoButton"));
    m_demoButton->setToolTip(
        tr("A small Llama model trained on Jane Austen's novels, bundled to try every step"));
    m_demoButton->hide();
    connect(m_demoButton, &QPushButton::clicked, this, &ModelPanel::openDemoRequested);
    auto* row = new QHBoxLayout;
    row->addStretch(1);
    row->addWidget(button);
    row->addWidget(m_demoButton);
    row->addStretch(1);
    layout->addSpacing(12);
    layout->addLayout(row);
    m_recentBox = new QWidget(page);
    m_recentBox->setObjectName(QStringLiteral("recentModelsBox"));
    new QVBoxLayout(m_recentBox);
    m_recentBox->hide();
    auto* recentRow = new QHBoxLayout;
    recentRow->addStretch(1);
    recentRow->addWidget(m_recentBox);
    recentRow->addStretch(1);
    layout->addSpacing(12);
    layout->addLayout(recentRow);
    layout->addStretch(3);
    return page;
}

void ModelPanel::setDemoAvailable(bool available) { m_demoButton->setVisible(available); }

void ModelPanel::setRecentFolders(const QStringList& folders) {
    QLayout* layout = m_recentBox->layout();
    while (QLayoutItem* item = layout->takeAt(0)) {
        delete item->widget();
        delete item;
    }
    if (folders.isEmpty()) {
        m_recentBox->hide();
        return;
    }
    auto* title = new QLabel(tr("Recent models"), m_recentBox);
    title->setForegroundRole(QPalette::PlaceholderText);
    layout->addWidget(title);
    for (const QString& folder : folders.mid(0, kShownRecent)) {
        QString name = QFileInfo(folder).fileName();
        if (name.isEmpty()) name = folder;
        auto* open = new QPushButton(name, m_recentBox);
        open->setFlat(true);
        open->setStyleSheet(QStringLiteral("QPushButton { text-align: left; }"));
        open->setToolTip(QDir::toNativeSeparators(folder));
        open->setEnabled(QFileInfo(folder).isDir());
        connect(open, &QPushButton::clicked, this,
                [this, folder] { Q_EMIT recentFolderChosen(folder); });
        layout->addWidget(open);
    }
    m_recentBox->show();
}

QWidget* ModelPanel::buildModelPage() {
    auto* page = new QWidget(this);
    auto* layout = new QVBoxLayout(page);

    m_titleLabel = new QLabel(page);
    QFont titleFont = m_titleLabel->font();
    titleFont.setPointSizeF(titleFont.pointSizeF() * 1.3);
    titleFont.setBold(true);
    m_titleLabel->setFont(titleFont);
    layout->addWidget(m_titleLabel);

    // Long paths must not widen the window: let the label be cut rather than grow.
    m_pathLabel = new QLabel(page);
    m_pathLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_pathLabel->setSizePolicy(QSizePolicy::Ignored, QSizePolicy::Preferred);
    m_pathLabel->setForegroundRole(QPalette::PlaceholderText);
    layout->addWidget(m_pathLabel);

    m_summaryLabel = new QLabel(page);
    m_summaryLabel->setObjectName(QStringLiteral("summaryLabel"));
    m_summaryLabel->setWordWrap(true);
    layout->addWidget(m_summaryLabel);

    m_problemsLabel = new QLabel(page);
    m_problemsLabel->setObjectName(QStringLiteral("problemsLabel"));
    m_problemsLabel->setWordWrap(true);
    m_problemsLabel->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_problemsLabel->setStyleSheet(
        QStringLiteral("QLabel { color: #b00020; background: #fdecee; border: 1px solid #f3b5bd;"
                       " border-radius: 3px; padding: 6px; }"));
    layout->addWidget(m_problemsLabel);

    auto* splitter = new QSplitter(Qt::Horizontal, page);
    auto* scroll = new QScrollArea(splitter);
    scroll->setWidgetResizable(true);
    scroll->setFrameShape(QFrame::NoFrame);
    scroll->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_configView = new ModelConfigView(scroll);
    scroll->setWidget(m_configView);
    scroll->setMinimumWidth(m_configView->minimumSizeHint().width() + 24);
    splitter->addWidget(scroll);
    splitter->addWidget(buildTensorPane());
    splitter->setStretchFactor(0, 0);
    splitter->setStretchFactor(1, 1);
    splitter->setSizes({scroll->minimumWidth(), 1280 - scroll->minimumWidth()});
    splitter->setChildrenCollapsible(false);
    layout->addWidget(splitter, 1);
    return page;
}

QWidget* ModelPanel::buildTensorPane() {
    auto* pane = new QWidget(this);
    auto* layout = new QVBoxLayout(pane);
    layout->setContentsMargins(0, 0, 0, 0);

    auto* filterRow = new QHBoxLayout;
    m_filterEdit = new QLineEdit(pane);
    m_filterEdit->setObjectName(QStringLiteral("tensorFilter"));
    m_filterEdit->setPlaceholderText(tr("Filter tensors (name, dtype, shape or file)…"));
    m_filterEdit->setClearButtonEnabled(true);
    filterRow->addWidget(m_filterEdit, 1);
    m_countLabel = new QLabel(pane);
    filterRow->addWidget(m_countLabel);
    layout->addLayout(filterRow);

    m_tensorModel = new TensorTableModel(this);
    m_proxy = new QSortFilterProxyModel(this);
    m_proxy->setSourceModel(m_tensorModel);
    m_proxy->setSortRole(TensorTableModel::SortRole);
    m_proxy->setFilterKeyColumn(-1);
    m_proxy->setFilterCaseSensitivity(Qt::CaseInsensitive);
    connect(m_filterEdit, &QLineEdit::textChanged, m_proxy,
            &QSortFilterProxyModel::setFilterFixedString);
    connect(m_proxy, &QSortFilterProxyModel::rowsInserted, this, &ModelPanel::updateTensorCount);
    connect(m_proxy, &QSortFilterProxyModel::rowsRemoved, this, &ModelPanel::updateTensorCount);
    connect(m_proxy, &QSortFilterProxyModel::modelReset, this, &ModelPanel::updateTensorCount);
    connect(m_proxy, &QSortFilterProxyModel::layoutChanged, this, &ModelPanel::updateTensorCount);

    m_tableView = new QTableView(pane);
    m_tableView->setObjectName(QStringLiteral("tensorTable"));
    m_tableView->setModel(m_proxy);
    m_tableView->setAlternatingRowColors(true);
    m_tableView->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_tableView->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_tableView->setWordWrap(false);
    m_tableView->setTextElideMode(Qt::ElideMiddle);  // keep both "model.layers.N" and ".weight"
    m_tableView->verticalHeader()->hide();
    m_tableView->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 8);
    QHeaderView* header = m_tableView->horizontalHeader();
    header->setDefaultAlignment(Qt::AlignLeft | Qt::AlignVCenter);
    header->setSectionResizeMode(QHeaderView::ResizeToContents);
    header->setSectionResizeMode(TensorTableModel::NameColumn, QHeaderView::Stretch);
    header->setSortIndicatorClearable(true);
    // No sort indicator at first: the table shows the tensors in file order until a click.
    header->setSortIndicator(-1, Qt::AscendingOrder);
    m_tableView->setSortingEnabled(true);
    layout->addWidget(m_tableView, 1);
    return pane;
}

void ModelPanel::showSummary(const ModelSummary& summary) {
    const QString folder = QString::fromStdString(summary.folder);
    const std::filesystem::path path(summary.folder);
    QString name = QString::fromStdString(path.filename().string());
    if (name.isEmpty()) name = QString::fromStdString(path.parent_path().filename().string());
    m_titleLabel->setText(name.isEmpty() ? folder : name);
    m_pathLabel->setText(folder);
    m_pathLabel->setToolTip(folder);

    QStringList parts;
    parts << plural(static_cast<int>(summary.tensors.size()), tr("%1 tensor"), tr("%1 tensors"));
    parts << tr("%1 parameters stored").arg(formatCount(summary.storedParameterCount));
    parts << tr("%1 stored").arg(formatBytes(summary.storedBytes));
    parts << (summary.sharded ? tr("sharded") : tr("single file"));
    parts << (summary.hasTokenizer ? tr("tokenizer.model present") : tr("no tokenizer.model"));
    m_summaryLabel->setText(parts.join(kSeparator));

    m_problems.clear();
    for (const std::string& problem : summary.problems)
        m_problems << QString::fromStdString(problem);
    showProblems();

    m_configView->setConfig(summary.config);
    m_filterEdit->clear();
    m_tableView->horizontalHeader()->setSortIndicator(-1, Qt::AscendingOrder);
    m_proxy->sort(-1);
    m_tensorModel->setTensors(summary.tensors);
    m_tableView->scrollToTop();
    m_stack->setCurrentIndex(1);
}

void ModelPanel::showProblems() {
    if (m_problems.isEmpty()) {
        m_problemsLabel->hide();
        m_problemsLabel->clear();
        return;
    }
    QString html =
        QStringLiteral("<b>%1</b>")
            .arg(plural(static_cast<int>(m_problems.size()), tr("%1 problem found in this folder:"),
                        tr("%1 problems found in this folder:")));
    const int shown = std::min(kShownProblems, static_cast<int>(m_problems.size()));
    for (int i = 0; i < shown; ++i)
        html += QStringLiteral("<br>• ") + m_problems[i].toHtmlEscaped();
    if (m_problems.size() > shown)
        html += QStringLiteral("<br>") +
                tr("… and %1 more (hover for the full list)").arg(m_problems.size() - shown);
    m_problemsLabel->setText(html);
    m_problemsLabel->setToolTip(m_problems.join(QLatin1Char('\n')));
    m_problemsLabel->show();
}

void ModelPanel::updateTensorCount() {
    const int total = m_tensorModel->rowCount();
    const int shown = m_proxy->rowCount();
    m_countLabel->setText(shown == total ? plural(total, tr("%1 tensor"), tr("%1 tensors"))
                                         : tr("%1 of %2 tensors").arg(shown).arg(total));
}

void ModelPanel::clear() {
    m_problems.clear();
    showProblems();
    m_configView->clear();
    m_tensorModel->clear();
    m_filterEdit->clear();
    m_titleLabel->clear();
    m_pathLabel->clear();
    m_summaryLabel->clear();
    m_stack->setCurrentIndex(0);
}

bool ModelPanel::hasModel() const { return m_stack->currentIndex() == 1; }

QString ModelPanel::summaryText() const { return m_summaryLabel->text(); }

}  // namespace gqa
