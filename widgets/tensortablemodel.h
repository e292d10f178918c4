// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A table model over the tensors stored in a model folder (one row per tensor, in file order),
// for a QTableView behind a QSortFilterProxyModel. Display text is human readable; SortRole gives
// keys that sort the way a reader expects: numbers numerically, and names "naturally" so that
// layers.2 comes before layers.10.

#include <vector>

#include <QAbstractTableModel>

#include "io/modelsummary.h"

namespace gqa {

class TensorTableModel : public QAbstractTableModel {
    Q_OBJECT
public:
    enum Column {
        NameColumn,
        DTypeColumn,
        ShapeColumn,
        ParametersColumn,
        BytesColumn,
        FileColumn,
        ColumnCount
    };
    /// Role whose values a QSortFilterProxyModel should sort by (setSortRole).
    static constexpr int SortRole = Qt::UserRole + 1;

    explicit TensorTableModel(QObject* parent = nullptr);

    void setTensors(std::vector<StoredTensor> tensors);
    const std::vector<StoredTensor>& tensors() const { return m_tensors; }
    void clear();

    int rowCount(const QModelIndex& parent = QModelIndex()) const override;
    int columnCount(const QModelIndex& parent = QModelIndex()) const override;
    QVariant data(const QModelIndex& index, int role = Qt::DisplayRole) const override;
    QVariant headerData(int section, Qt::Orientation orientation,
                        int role = Qt::DisplayRole) const override;

private:
    QVariant displayData(const StoredTensor& tensor, int column) const;
    QVariant sortData(const StoredTensor& tensor, int column) const;

    std::vector<StoredTensor> m_tensors;
};

}  // namespace gqa
