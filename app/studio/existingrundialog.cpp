// SPDX-License-Identifier: GPL-3.0-or-later
#include "existingrundialog.h"

#include <QDir>
#include <QMessageBox>
#include <QPushButton>

namespace gqa {

TrainingPanel::ExistingRunChoice askAboutExistingRun(QWidget* parent, const QString& folder) {
    using Choice = TrainingPanel::ExistingRunChoice;
    QMessageBox box(
        QMessageBox::Question, QObject::tr("A run is already there"),
        QObject::tr("%1 already holds a conversion run.").arg(QDir::toNativeSeparators(folder)),
        QMessageBox::NoButton, parent);
    box.setInformativeText(
        QObject::tr("Resume continues it (its settings must match); Overwrite deletes its "
                    "checkpoint, export and run file and starts again; Another Folder keeps it "
                    "and proposes a new folder."));
    QPushButton* resume = box.addButton(QObject::tr("Resume"), QMessageBox::AcceptRole);
    QPushButton* overwrite = box.addButton(QObject::tr("Overwrite"), QMessageBox::DestructiveRole);
    QPushButton* another = box.addButton(QObject::tr("Another Folder"), QMessageBox::ActionRole);
    box.addButton(QMessageBox::Cancel);
    box.exec();
    if (box.clickedButton() == resume) return Choice::Resume;
    if (box.clickedButton() == overwrite) return Choice::Overwrite;
    if (box.clickedButton() == another) return Choice::ChooseAnother;
    return Choice::Cancel;
}

}  // namespace gqa
