// SPDX-License-Identifier: GPL-3.0-or-later
#include "modelconfigview.h"

#include <algorithm>

#include <QFormLayout>
#include <QGroupBox>
#include <QHeaderView>
#include <QLabel>
#include <QTableWidget>
#include <QVBoxLayout>

#include "base/dtype.h"
#include "humanformat.h"

namespace gqa {
namespace {

enum KvColumn {
    KvHeadsColumn,
    KindColumn,
    GroupColumn,
    PerTokenColumn,
    FullContextColumn,
    ShareColumn,
    KvColumnCount
};

QTableWidgetItem* makeItem(const QString& text, bool numeric) {
    auto* item = new QTableWidgetItem(text);
    item->setFlags(Qt::ItemIsEnabled | Qt::ItemIsSelectable);
    item->setTextAlignment(numeric ? (Qt::AlignRight | Qt::AlignVCenter)
                                   : (Qt::AlignLeft | Qt::AlignVCenter));
    return item;
}

// "50%", "33.3%", "12.5%": one decimal, dropped when it is zero.
QString percentText(double percent) {
    QString text = QString::number(percent, 'f', 1);
    if (text.endsWith(QStringLiteral(".0"))) text.chop(2);
    return text + QLatin1Char('%');
}

QString yesNo(bool value) { return value ? QObject::tr("yes") : QObject::tr("no"); }

}  // namespace

ModelConfigView::ModelConfigView(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);

    auto* archBox = new QGroupBox(tr("Architecture"), this);
    m_form = new QFormLayout(archBox);
    m_form->setLabelAlignment(Qt::AlignLeft);
    m_form->setFieldGrowthPolicy(QFormLayout::AllNonFixedFieldsGrow);
    addField(QStringLiteral("family"), tr("Family"));
    addField(QStringLiteral("layers"), tr("Layers"));
    addField(QStringLiteral("hidden"), tr("Hidden size"));
    addField(QStringLiteral("intermediate"), tr("Intermediate size"));
    addField(QStringLiteral("heads"), tr("Attention heads"));
    addField(QStringLiteral("kvHeads"), tr("KV heads"));
    addField(QStringLiteral("headDim"), tr("Head dim"));
    addField(QStringLiteral("groupSize"), tr("Group size"));
    addField(QStringLiteral("vocab"), tr("Vocabulary"));
    addField(QStringLiteral("ropeTheta"), tr("RoPE theta"));
    addField(QStringLiteral("maxPositions"), tr("Max positions"));
    addField(QStringLiteral("tied"), tr("Tied embeddings"));
    addField(QStringLiteral("dtype"), tr("Dtype"));
    addField(QStringLiteral("parameters"), tr("Parameters"));
    layout->addWidget(archBox);

    m_kvBox = new QGroupBox(tr("KV cache per token"), this);
    auto* kvLayout = new QVBoxLayout(m_kvBox);
    m_kvTable = new QTableWidget(0, KvColumnCount, m_kvBox);
    m_kvTable->setObjectName(QStringLiteral("kvCacheTable"));
    m_kvTable->setHorizontalHeaderLabels({tr("KV heads"), tr("Attention"), tr("Group"),
                                          tr("Per token"), tr("Full context"), tr("vs MHA")});
    m_kvTable->verticalHeader()->hide();
    m_kvTable->setEditTriggers(QAbstractItemView::NoEditTriggers);
    m_kvTable->setSelectionBehavior(QAbstractItemView::SelectRows);
    m_kvTable->setFocusPolicy(Qt::NoFocus);
    m_kvTable->setVerticalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_kvTable->setHorizontalScrollBarPolicy(Qt::ScrollBarAlwaysOff);
    m_kvTable->setWordWrap(false);
    m_kvTable->verticalHeader()->setSectionResizeMode(QHeaderView::Fixed);
    m_kvTable->verticalHeader()->setDefaultSectionSize(fontMetrics().height() + 8);
    m_kvTable->horizontalHeader()->setSectionResizeMode(QHeaderView::Stretch);
    // Wide enough for every header and for values such as "512.0 KiB" without eliding.
    const int valueWidth = fontMetrics().horizontalAdvance(QStringLiteral("000.0 MiB"));
    int tableWidth = 2 * m_kvTable->frameWidth() + 4;
    for (int column = 0; column < KvColumnCount; ++column)
        tableWidth += std::max(valueWidth, m_kvTable->horizontalHeader()->sectionSizeHint(column));
    m_kvTable->setMinimumWidth(tableWidth);
    m_kvTable->setSizePolicy(QSizePolicy::Expanding, QSizePolicy::Fixed);
    kvLayout->addWidget(m_kvTable);
    m_kvNote = new QLabel(m_kvBox);
    m_kvNote->setWordWrap(true);
    m_kvNote->setForegroundRole(QPalette::PlaceholderText);
    kvLayout->addWidget(m_kvNote);
    layout->addWidget(m_kvBox);
    layout->addStretch(1);
    clear();
}

void ModelConfigView::addField(const QString& field, const QString& label) {
    auto* value = new QLabel(this);
    value->setObjectName(QStringLiteral("value.") + field);
    value->setTextInteractionFlags(Qt::TextSelectableByMouse);
    m_form->addRow(label + QLatin1Char(':'), value);
}

void ModelConfigView::setValue(const QString& field, const QString& text, const QString& toolTip) {
    if (auto* label = findChild<QLabel*>(QStringLiteral("value.") + field)) {
        label->setText(text);
        label->setToolTip(toolTip);
    }
}

QString ModelConfigView::valueText(const QString& field) const {
    const auto* label = findChild<const QLabel*>(QStringLiteral("value.") + field);
    return label ? label->text() : QString();
}

void ModelConfigView::clear() {
    m_hasConfig = false;
    for (QLabel* label : findChildren<QLabel*>()) {
        if (label->objectName().startsWith(QStringLiteral("value."))) {
            label->setText(QStringLiteral("–"));
            label->setToolTip({});
        }
    }
    m_kvTable->setRowCount(0);
    m_kvTable->setFixedHeight(m_kvTable->horizontalHeader()->sizeHint().height() + 4);
    m_kvBox->setTitle(tr("KV cache per token"));
    m_kvNote->setText(tr("Open a model to see what fewer KV heads would save."));
}

void ModelConfigView::setConfig(const ModelConfig& c) {
    m_hasConfig = true;
    setValue(QStringLiteral("family"), QString::fromStdString(c.traits().architecture),
             QString::fromStdString(c.familySummary()));
    setValue(QStringLiteral("layers"), QString::number(c.numLayers));
    setValue(QStringLiteral("hidden"), formatInteger(c.hiddenSize));
    setValue(QStringLiteral("intermediate"), formatInteger(c.intermediateSize));
    setValue(QStringLiteral("heads"), QString::number(c.numHeads));
    setValue(QStringLiteral("kvHeads"),
             c.isMha() ? tr("%1 (MHA)").arg(c.numKvHeads) : tr("%1 (GQA)").arg(c.numKvHeads));
    setValue(QStringLiteral("headDim"), QString::number(c.headDim));
    setValue(QStringLiteral("groupSize"), QString::number(c.groupSize()),
             tr("Query heads per KV head"));
    setValue(QStringLiteral("vocab"), formatInteger(c.vocabSize));
    const bool integralTheta = c.ropeTheta == static_cast<double>(static_cast<qint64>(c.ropeTheta));
    QString rope = integralTheta ? formatInteger(static_cast<qint64>(c.ropeTheta))
                                 : QString::number(c.ropeTheta, 'g', 10);
    if (c.ropeLinearFactor != 1.0)
        rope += tr(" (linear scaling ×%1)").arg(QString::number(c.ropeLinearFactor, 'g', 6));
    setValue(QStringLiteral("ropeTheta"), rope);
    setValue(QStringLiteral("maxPositions"), formatInteger(c.maxPositionEmbeddings));
    setValue(QStringLiteral("tied"), yesNo(c.tieWordEmbeddings));
    setValue(QStringLiteral("dtype"), tr("%1 (%2, %3 bytes)")
                                          .arg(QString::fromStdString(torchDtypeName(c.dtype)),
                                               QString::fromStdString(dtypeName(c.dtype)))
                                          .arg(dtypeSize(c.dtype)));
    const std::int64_t parameters = c.parameterCount();
    setValue(QStringLiteral("parameters"),
             tr("%1 (%2)").arg(formatCount(parameters), formatInteger(parameters)),
             tr("Weights implied by the config; the LM head counts only when not tied"));
    fillKvCacheTable(c);
}

void ModelConfigView::fillKvCacheTable(const ModelConfig& c) {
    const std::size_t elementBytes = dtypeSize(c.dtype);
    std::vector<std::int64_t> counts = c.validKvHeadCounts();
    std::sort(counts.rbegin(), counts.rend());  // MHA first, MQA last
    const std::uint64_t mhaBytes = c.kvCacheBytesPerToken(c.numHeads, elementBytes);

    m_kvBox->setTitle(tr("KV cache per token (%1, %2 bytes per element)")
                          .arg(QString::fromStdString(dtypeName(c.dtype)))
                          .arg(elementBytes));
    m_kvTable->setRowCount(static_cast<int>(counts.size()));
    for (int row = 0; row < static_cast<int>(counts.size()); ++row) {
        const std::int64_t kv = counts[static_cast<std::size_t>(row)];
        const std::uint64_t perToken = c.kvCacheBytesPerToken(kv, elementBytes);
        const std::uint64_t fullContext =
            perToken * static_cast<std::uint64_t>(c.maxPositionEmbeddings);
        const QString kind = kv == c.numHeads ? tr("MHA") : kv == 1 ? tr("MQA") : tr("GQA");
        const double share =
            mhaBytes ? 100.0 * static_cast<double>(perToken) / static_cast<double>(mhaBytes) : 0.0;
        auto* perTokenItem = makeItem(formatBytes(perToken), true);
        perTokenItem->setToolTip(tr("%1 bytes").arg(formatInteger(static_cast<qint64>(perToken))));
        auto* contextItem = makeItem(formatBytes(fullContext), true);
        contextItem->setToolTip(tr("%1 tokens").arg(formatInteger(c.maxPositionEmbeddings)));
        m_kvTable->setItem(row, KvHeadsColumn, makeItem(QString::number(kv), true));
        m_kvTable->setItem(row, KindColumn, makeItem(kind, false));
        m_kvTable->setItem(row, GroupColumn, makeItem(QString::number(c.numHeads / kv), true));
        m_kvTable->setItem(row, PerTokenColumn, perTokenItem);
        m_kvTable->setItem(row, FullContextColumn, contextItem);
        m_kvTable->setItem(row, ShareColumn, makeItem(percentText(share), true));
        if (kv == c.numKvHeads) {
            for (int column = 0; column < KvColumnCount; ++column) {
                QTableWidgetItem* item = m_kvTable->item(row, column);
                QFont font = item->font();
                font.setBold(true);
                item->setFont(font);
            }
        }
    }
    int height = m_kvTable->horizontalHeader()->sizeHint().height() + 2 * m_kvTable->frameWidth();
    for (int row = 0; row < m_kvTable->rowCount(); ++row) height += m_kvTable->rowHeight(row);
    m_kvTable->setFixedHeight(height);
    m_kvNote->setText(tr("Bold: this model (%1 KV heads). Full context: %2 tokens.")
                          .arg(c.numKvHeads)
                          .arg(formatInteger(c.maxPositionEmbeddings)));
}

}  // namespace gqa
