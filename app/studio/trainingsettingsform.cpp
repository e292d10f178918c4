// SPDX-License-Identifier: GPL-3.0-or-later
#include "trainingsettingsform.h"

#include <initializer_list>

#include <QComboBox>
#include <QDoubleSpinBox>
#include <QFormLayout>
#include <QSpinBox>

namespace gqa {
namespace {
// Ranges of the fields: wide enough for a 7B run, narrow enough to catch a slip of the wheel.
constexpr int kMaxSteps = 10000000;
constexpr int kMaxBatch = 4096;
constexpr int kMinSeqLen = 8;
constexpr int kMaxSeqLen = 1 << 20;
constexpr double kMinLearningRate = 1e-7;
}  // namespace

TrainingSettingsForm::TrainingSettingsForm(QWidget* parent) : QWidget(parent) {
    const TrainingSettings defaults;
    m_scheme = new QComboBox(this);
    m_scheme->setObjectName(QStringLiteral("schemeCombo"));
    m_scheme->addItem(tr("reference (paper code)"), int(GateScheme::Reference));
    m_scheme->addItem(tr("hard-concrete L0 (Louizos)"), int(GateScheme::HardConcrete));
    m_steps = new QSpinBox(this);
    m_steps->setObjectName(QStringLiteral("stepsSpin"));
    m_steps->setRange(1, kMaxSteps);
    m_learningRate = new QDoubleSpinBox(this);
    m_learningRate->setObjectName(QStringLiteral("learningRateSpin"));
    m_learningRate->setDecimals(7);
    m_learningRate->setRange(kMinLearningRate, 1.0);
    m_learningRate->setSingleStep(1e-5);
    m_batch = new QSpinBox(this);
    m_batch->setObjectName(QStringLiteral("batchSpin"));
    m_batch->setRange(1, kMaxBatch);
    m_seqLen = new QSpinBox(this);
    m_seqLen->setObjectName(QStringLiteral("seqLenSpin"));
    m_seqLen->setRange(kMinSeqLen, kMaxSeqLen);
    m_device = new QComboBox(this);
    m_device->setObjectName(QStringLiteral("deviceCombo"));
    m_device->addItems({QStringLiteral("cpu"), QStringLiteral("cuda"), QStringLiteral("auto")});
    m_dtype = new QComboBox(this);
    m_dtype->setObjectName(QStringLiteral("dtypeCombo"));
    m_dtype->addItem(QStringLiteral("float32"), int(DType::F32));
    m_dtype->addItem(QStringLiteral("bfloat16"), int(DType::BF16));
    setSettings(defaults);

    m_form = new QFormLayout(this);
    m_form->addRow(tr("Gate scheme"), m_scheme);
    m_form->addRow(tr("Updates"), m_steps);
    m_form->addRow(tr("Learning rate"), m_learningRate);
    m_form->addRow(tr("Batch (sequences)"), m_batch);
    m_form->addRow(tr("Sequence length"), m_seqLen);
    m_form->addRow(tr("Device"), m_device);
    m_form->addRow(tr("Compute dtype"), m_dtype);

    for (QSpinBox* spin : {m_steps, m_batch, m_seqLen})
        connect(spin, &QSpinBox::valueChanged, this, &TrainingSettingsForm::changed);
    connect(m_learningRate, &QDoubleSpinBox::valueChanged, this, &TrainingSettingsForm::changed);
    for (QComboBox* combo : {m_scheme, m_device, m_dtype})
        connect(combo, &QComboBox::currentIndexChanged, this, &TrainingSettingsForm::changed);
}

void TrainingSettingsForm::setSettings(const TrainingSettings& s) {
    m_scheme->setCurrentIndex(std::max(0, m_scheme->findData(int(s.gateScheme))));
    m_steps->setValue(s.steps);
    m_learningRate->setValue(s.learningRate);
    m_batch->setValue(s.batchSize);
    m_seqLen->setValue(s.seqLen);
    m_device->setCurrentText(s.device);
    m_dtype->setCurrentIndex(std::max(0, m_dtype->findData(int(s.compute))));
}

void TrainingSettingsForm::apply(TrainingSettings& s) const {
    s.gateScheme = GateScheme(m_scheme->currentData().toInt());
    s.steps = m_steps->value();
    s.learningRate = m_learningRate->value();
    s.batchSize = m_batch->value();
    s.seqLen = m_seqLen->value();
    s.device = m_device->currentText();
    s.compute = DType(m_dtype->currentData().toInt());
}

void TrainingSettingsForm::setFieldsEnabled(bool enabled) {
    for (QWidget* field : std::initializer_list<QWidget*>{m_scheme, m_steps, m_learningRate,
                                                          m_batch, m_seqLen, m_device, m_dtype})
        field->setEnabled(enabled);
}

}  // namespace gqa
