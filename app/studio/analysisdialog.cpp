// SPDX-License-Identifier: GPL-3.0-or-later
#include "analysisdialog.h"

#include <QDialogButtonBox>
#include <QFileDialog>
#include <QFileInfo>
#include <QFormLayout>
#include <QLabel>
#include <QListWidget>
#include <QPushButton>
#include <QSpinBox>
#include <QVBoxLayout>

namespace gqa {

AnalysisDialog::AnalysisDialog(const HeadAnalysisRequest& initial, QWidget* parent)
    : QDialog(parent), m_request(initial) {
    setWindowTitle(tr("Analyse head similarity"));
    auto* layout = new QVBoxLayout(this);
    auto* intro = new QLabel(
        tr("The model reads the calibration text; the keys and values of every head are "
           "summarised, compared head by head and grouped. The statistics are kept in a run file "
           "so that reopening this model with the same settings is instant."),
        this);
    intro->setWordWrap(true);
    layout->addWidget(intro);

    auto* form = new QFormLayout;
    auto* fileBox = new QVBoxLayout;
    m_files = new QListWidget(this);
    m_files->setObjectName(QStringLiteral("calibrationFiles"));
    m_files->setMaximumHeight(90);
    for (const QString& f : initial.inputFiles) m_files->addItem(f);
    fileBox->addWidget(m_files);
    auto* browse = new QPushButton(tr("Choose files…"), this);
    connect(browse, &QPushButton::clicked, this, &AnalysisDialog::chooseFiles);
    fileBox->addWidget(browse, 0, Qt::AlignLeft);
    form->addRow(tr("Calibration text"), fileBox);

    m_sequences = new QSpinBox(this);
    m_sequences->setRange(1, 4096);
    m_sequences->setValue(initial.sequences);
    form->addRow(tr("Sequences"), m_sequences);
    m_length = new QSpinBox(this);
    m_length->setRange(8, 32768);
    m_length->setSingleStep(64);
    m_length->setValue(initial.sequenceLength);
    m_length->setSuffix(tr(" tokens"));
    form->addRow(tr("Sequence length"), m_length);
    m_tokens = new QLabel(this);
    form->addRow(QString(), m_tokens);
    layout->addLayout(form);

    m_buttons = new QDialogButtonBox(QDialogButtonBox::Ok | QDialogButtonBox::Cancel, this);
    m_buttons->button(QDialogButtonBox::Ok)->setText(tr("Analyse"));
    connect(m_buttons, &QDialogButtonBox::accepted, this, &QDialog::accept);
    connect(m_buttons, &QDialogButtonBox::rejected, this, &QDialog::reject);
    layout->addWidget(m_buttons);
    connect(m_sequences, &QSpinBox::valueChanged, this, &AnalysisDialog::updateState);
    connect(m_length, &QSpinBox::valueChanged, this, &AnalysisDialog::updateState);
    updateState();
}

void AnalysisDialog::chooseFiles() {
    const QString start =
        m_files->count() > 0 ? QFileInfo(m_files->item(0)->text()).absolutePath() : QString();
    const QStringList files = QFileDialog::getOpenFileNames(
        this, tr("Calibration text"), start, tr("Text (*.txt *.jsonl);;All files (*)"));
    if (files.isEmpty()) return;
    m_files->clear();
    m_files->addItems(files);
    updateState();
}

void AnalysisDialog::updateState() {
    m_tokens->setText(tr("%1 tokens in all").arg(qint64(m_sequences->value()) * m_length->value()));
    m_buttons->button(QDialogButtonBox::Ok)->setEnabled(m_files->count() > 0);
}

HeadAnalysisRequest AnalysisDialog::request() const {
    HeadAnalysisRequest r = m_request;
    r.inputFiles.clear();
    for (int i = 0; i < m_files->count(); ++i) r.inputFiles << m_files->item(i)->text();
    r.sequences = m_sequences->value();
    r.sequenceLength = m_length->value();
    return r;
}

}  // namespace gqa
