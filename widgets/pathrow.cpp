// SPDX-License-Identifier: GPL-3.0-or-later
#include "pathrow.h"

#include <QEvent>
#include <QFileDialog>
#include <QFileInfo>
#include <QHBoxLayout>
#include <QLineEdit>
#include <QPushButton>

namespace gqa {
namespace {

QString dialogChoice(QWidget* parent, BrowseFor what, const QString& current,
                     const QString& filter) {
    const QString first = current.section(QLatin1Char(';'), 0, 0).trimmed();
    const QString start = first.isEmpty() ? QString() : QFileInfo(first).absolutePath();
    switch (what) {
        case BrowseFor::Folder:
            return QFileDialog::getExistingDirectory(parent, QObject::tr("Choose a folder"),
                                                     first.isEmpty() ? QString() : first);
        case BrowseFor::Files:
            return QFileDialog::getOpenFileNames(parent, QObject::tr("Choose files"), start, filter)
                .join(QLatin1Char(';'));
        case BrowseFor::File:
            break;
    }
    return QFileDialog::getOpenFileName(parent, QObject::tr("Choose a file"), start, filter);
}

PathChooser& chooser() {
    static PathChooser current = dialogChoice;
    return current;
}

/// Keeps the button's enabled state with the field's (forms lock fields while a run goes on).
class FollowEnabled final : public QObject {
public:
    FollowEnabled(QLineEdit* edit, QPushButton* button) : QObject(button), m_button(button) {
        edit->installEventFilter(this);
    }
    bool eventFilter(QObject* watched, QEvent* event) override {
        if (event->type() == QEvent::EnabledChange)
            m_button->setEnabled(static_cast<QWidget*>(watched)->isEnabled());
        return false;
    }

private:
    QPushButton* m_button;
};

}  // namespace

void setPathChooser(PathChooser c) { chooser() = c ? std::move(c) : PathChooser(dialogChoice); }

QWidget* pathRow(QLineEdit* edit, BrowseFor what, const QString& filter) {
    auto* row = new QWidget;
    auto* layout = new QHBoxLayout(row);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->addWidget(edit, 1);
    auto* browse = new QPushButton(QObject::tr("Browse…"), row);
    browse->setObjectName(edit->objectName() + QStringLiteral("Browse"));
    layout->addWidget(browse);
    new FollowEnabled(edit, browse);
    // The whole path on hover, after the field's own explanation.
    const QString explanation = edit->toolTip();
    const auto updateTip = [edit, explanation](const QString& text) {
        QStringList lines;
        if (!explanation.isEmpty()) lines << explanation;
        if (!text.isEmpty()) lines << text;
        edit->setToolTip(lines.join(QLatin1Char('\n')));
    };
    updateTip(edit->text());
    QObject::connect(edit, &QLineEdit::textChanged, edit, updateTip);
    QObject::connect(browse, &QPushButton::clicked, edit, [edit, what, filter] {
        const QString chosen = chooser()(edit->window(), what, edit->text(), filter);
        if (!chosen.isEmpty()) {
            edit->setText(chosen);
            Q_EMIT edit->textEdited(chosen);  // a user's choice, as if typed
        }
    });
    return row;
}

}  // namespace gqa
