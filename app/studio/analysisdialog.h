// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The "Analyse…" dialog: which calibration text (the bundled Emma when it is found, else the
// user's .txt/.jsonl files), how many sequences and how many tokens each. OK is refused while no
// file is chosen.

#include <QDialog>

#include "headanalysisworker.h"

class QDialogButtonBox;
class QLabel;
class QListWidget;
class QSpinBox;

namespace gqa {

class AnalysisDialog : public QDialog {
    Q_OBJECT
public:
    AnalysisDialog(const HeadAnalysisRequest& initial, QWidget* parent = nullptr);

    /// The initial request with the dialog's files, sequences and length.
    HeadAnalysisRequest request() const;

private:
    void chooseFiles();
    void updateState();

    HeadAnalysisRequest m_request;
    QListWidget* m_files = nullptr;
    QSpinBox* m_sequences = nullptr;
    QSpinBox* m_length = nullptr;
    QLabel* m_tokens = nullptr;
    QDialogButtonBox* m_buttons = nullptr;
};

}  // namespace gqa
