// SPDX-License-Identifier: GPL-3.0-or-later
#include "recentmodelsmenu.h"

#include <QAction>
#include <QDir>
#include <QFileInfo>
#include <QSettings>

namespace gqa {

RecentModelsMenu::RecentModelsMenu(QWidget* parent) : QMenu(tr("Recent &Models"), parent) {
    setObjectName(QStringLiteral("recentModelsMenu"));
    // Folders may have appeared or gone since the last look.
    connect(this, &QMenu::aboutToShow, this, &RecentModelsMenu::rebuild);
    for (const QString& folder : QSettings().value(QLatin1String(kSettingsKey)).toStringList()) {
        if (!folder.isEmpty() && !m_folders.contains(folder)) m_folders.append(folder);
        if (m_folders.size() == kMaxEntries) break;
    }
    rebuild();
}

void RecentModelsMenu::addFolder(const QString& folder) {
    const QString cleaned = QDir::cleanPath(QFileInfo(folder).absoluteFilePath());
    m_folders.removeAll(cleaned);
    m_folders.prepend(cleaned);
    while (m_folders.size() > kMaxEntries) m_folders.removeLast();
    save();
    rebuild();
}

void RecentModelsMenu::clearFolders() {
    m_folders.clear();
    save();
    rebuild();
}

void RecentModelsMenu::save() {
    QSettings().setValue(QLatin1String(kSettingsKey), m_folders);
    Q_EMIT foldersChanged(m_folders);
}

void RecentModelsMenu::rebuild() {
    clear();
    for (int i = 0; i < m_folders.size(); ++i) {
        const QString folder = m_folders.at(i);
        QString name = QFileInfo(folder).fileName();
        if (name.isEmpty()) name = folder;
        // "&1 demo  (/usr/share/…/demo)": a mnemonic for the first nine, the full path after it.
        QString text = QStringLiteral("%1  (%2)").arg(name, QDir::toNativeSeparators(folder));
        text.replace(QLatin1Char('&'), QLatin1String("&&"));
        if (i < 9) text.prepend(QStringLiteral("&%1 ").arg(i + 1));
        QAction* action = addAction(text);
        action->setData(folder);
        action->setEnabled(QFileInfo(folder).isDir());
        connect(action, &QAction::triggered, this, [this, folder] { Q_EMIT folderChosen(folder); });
    }
    if (!m_folders.isEmpty()) addSeparator();
    QAction* clearAction = addAction(tr("&Clear Menu"), this, &RecentModelsMenu::clearFolders);
    clearAction->setEnabled(!m_folders.isEmpty());
}

}  // namespace gqa
