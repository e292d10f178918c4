// SPDX-License-Identifier: GPL-3.0-or-later
#include "tensortablemodel.h"

#include <utility>

#include "base/dtype.h"
#include "humanformat.h"

namespace gqa {
namespace {

// Zero-pads every run of digits so that plain string comparison orders numbers by value.
QString naturalSortKey(const QString& text) {
    QString key;
    key.reserve(text.size() + 16);
    qsizetype i = 0;
    while (i < text.size()) {
        if (!text[i].isDigit()) {
            key += text[i++];
            continue;
        }
        const qsizetype start = i;
        while (i < text.size() && text[i].isDigit()) ++i;
        key += text.mid(start, i - start).rightJustified(12, QLatin1Char('0'));
    }
    return key;
}

}  // namespace

TensorTableModel::TensorTableModel(QObject* parent) : QAbstractTableModel(parent) {}

void TensorTableModel::setTensors(std::vector<StoredTensor> tensors) {
    beginResetModel();
    m_tensors = std::move(tensors);
    endResetModel();
}

void TensorTableModel::clear() { setTensors({}); }

int TensorTableModel::rowCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : static_cast<int>(m_tensors.size());
}

int TensorTableModel::columnCount(const QModelIndex& parent) const {
    return parent.isValid() ? 0 : ColumnCount;
}

QVariant TensorTableModel::data(const QModelIndex& index, int role) const {
    if (!index.isValid() || index.row() >= rowCount() || index.column() >= ColumnCount) return {};
    const StoredTensor& tensor = m_tensors[static_cast<std::size_t>(index.row())];
    switch (role) {
        case Qt::DisplayRole:
            return displayData(tensor, index.column());
        case SortRole:
            return sortData(tensor, index.column());
        case Qt::ToolTipRole:
            if (index.column() == ParametersColumn) return formatInteger(tensor.info.numel());
            if (index.column() == BytesColumn)
                return formatInteger(static_cast<std::int64_t>(tensor.info.byteSize()));
            return displayData(tensor, index.column());
        case Qt::TextAlignmentRole:
            if (index.column() == ParametersColumn || index.column() == BytesColumn)
                return QVariant::fromValue(Qt::AlignRight | Qt::AlignVCenter);
            return QVariant::fromValue(Qt::AlignLeft | Qt::AlignVCenter);
        default:
            return {};
    }
}

QVariant TensorTableModel::displayData(const StoredTensor& tensor, int column) const {
    switch (column) {
        case NameColumn:
            return QString::fromStdString(tensor.info.name);
        case DTypeColumn:
            return QString::fromStdString(dtypeName(tensor.info.dtype));
        case ShapeColumn:
            return formatShape(tensor.info.shape);
        case ParametersColumn:
            return formatCount(tensor.info.numel());
        case BytesColumn:
            return formatBytes(tensor.info.byteSize());
        case FileColumn:
            return QString::fromStdString(tensor.file);
        default:
            return {};
    }
}

QVariant TensorTableModel::sortData(const StoredTensor& tensor, int column) const {
    switch (column) {
        case ShapeColumn:
            return naturalSortKey(formatShape(tensor.info.shape));
        case ParametersColumn:
            return QVariant::fromValue<qlonglong>(tensor.info.numel());
        case BytesColumn:
            return QVariant::fromValue<qulonglong>(tensor.info.byteSize());
        case NameColumn:
        case FileColumn:
            return naturalSortKey(displayData(tensor, column).toString());
        default:
            return displayData(tensor, column);
    }
}

QVariant TensorTableModel::headerData(int section, Qt::Orientation orientation, int role) const {
    if (orientation != Qt::Horizontal) {
        if (role == Qt::DisplayRole) return section + 1;
        return {};
    }
    if (role != Qt::DisplayRole) return {};
    switch (section) {
        case NameColumn:
            return tr("Name");
        case DTypeColumn:
            return tr("Dtype");
        case ShapeColumn:
            return tr("Shape");
        case ParametersColumn:
            return tr("Parameters");
        case BytesColumn:
            return tr("Bytes");
        case FileColumn:
            return tr("File");
        default:
            return {};
    }
}

}  // namespace gqa
