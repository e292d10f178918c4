// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Shows a model's hyper-parameters (layers, heads, KV heads, head dim, parameters, dtype, ...)
// and what grouped-query attention would save: the KV-cache bytes per token for MHA and for
// every valid number of KV heads, in the model's own element size. Each value label is named
// "value.<field>" (e.g. "value.kvHeads") and the table "kvCacheTable", for tests and styling.

#include <QWidget>

#include "io/modelconfig.h"

class QFormLayout;
class QGroupBox;
class QLabel;
class QTableWidget;

namespace gqa {

class ModelConfigView : public QWidget {
    Q_OBJECT
public:
    explicit ModelConfigView(QWidget* parent = nullptr);

    void setConfig(const ModelConfig& config);
    /// Back to the empty state (dashes, empty table).
    void clear();
    bool hasConfig() const { return m_hasConfig; }
    /// Text of a value label, e.g. valueText("parameters"); empty for an unknown field.
    QString valueText(const QString& field) const;

private:
    void addField(const QString& field, const QString& label);
    void setValue(const QString& field, const QString& text, const QString& toolTip = {});
    void fillKvCacheTable(const ModelConfig& config);

    QFormLayout* m_form = nullptr;
    QGroupBox* m_kvBox = nullptr;
    QTableWidget* m_kvTable = nullptr;
    QLabel* m_kvNote = nullptr;
    bool m_hasConfig = false;
};

}  // namespace gqa
