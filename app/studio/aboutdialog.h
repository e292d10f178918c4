// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Help > About: the program's icon, name, version, purpose and licence, and the versions of the
// libraries it runs on (Qt, LibTorch and what it computes on, the BLAS it loaded, HDF5,
// QCustomPlot, the SentencePiece plug-in, the system), with a button that copies them as plain text
// for bug reports. Library versions come from core/base/versions.h, so no torch header reaches the
// studio.

#include <QDialog>
#include <QList>
#include <QPair>
#include <QString>

namespace gqa {

class AboutDialog : public QDialog {
    Q_OBJECT
public:
    explicit AboutDialog(QWidget* parent = nullptr);

    /// (component, version) rows shown in the dialog, GQA Studio first.
    static QList<QPair<QString, QString>> components();
    /// The rows as "component: version" lines: what Copy Versions puts on the clipboard.
    static QString versionsText();

public Q_SLOTS:
    void copyVersions();
};

}  // namespace gqa
