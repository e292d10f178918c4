// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The training hyper-parameters as one form (gate scheme, updates, learning rate, batch,
// sequence length, device, compute dtype), used by both the Training tab and the conversion
// wizard, so the two offer the same choices with the same ranges and defaults. Its defaults are
// TrainingSettings' (kept equal to core's ConversionTrainingConfig by a test). Paths, G and the
// start are not here: each front end asks for them where they belong.

#include <QWidget>

#include "trainingrunner.h"

class QComboBox;
class QDoubleSpinBox;
class QFormLayout;
class QSpinBox;

namespace gqa {

class TrainingSettingsForm : public QWidget {
    Q_OBJECT
public:
    explicit TrainingSettingsForm(QWidget* parent = nullptr);

    /// Shows the form's fields of `settings`.
    void setSettings(const TrainingSettings& settings);
    /// Writes the form's fields into `settings` (the others are left as they are).
    void apply(TrainingSettings& settings) const;
    /// Enables or disables the form's own fields (not the rows a front end added).
    void setFieldsEnabled(bool enabled);
    /// The form's rows, for a front end that adds its own rows to the same layout.
    QFormLayout* layout() const { return m_form; }

Q_SIGNALS:
    /// Any field changed (for estimates that depend on them).
    void changed();

private:
    QFormLayout* m_form = nullptr;
    QComboBox* m_scheme = nullptr;
    QSpinBox* m_steps = nullptr;
    QDoubleSpinBox* m_learningRate = nullptr;
    QSpinBox* m_batch = nullptr;
    QSpinBox* m_seqLen = nullptr;
    QComboBox* m_device = nullptr;
    QComboBox* m_dtype = nullptr;
};

}  // namespace gqa
