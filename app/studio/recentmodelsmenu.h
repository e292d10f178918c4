// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// File > Recent Models: the model folders opened last, newest first, kept in QSettings (key
// "recentModels") so that they survive restarts. Choosing one emits folderChosen and the main
// window opens it; a folder that has gone away is shown disabled. "Clear Menu" forgets them all.
// Only folders added with addFolder are recorded, so the main window decides whether a session is
// remembered at all (the --screenshot mode and the tests leave the user's settings alone).

#include <QMenu>
#include <QString>
#include <QStringList>

namespace gqa {

class RecentModelsMenu : public QMenu {
    Q_OBJECT
public:
    static constexpr int kMaxEntries = 10;
    static constexpr const char* kSettingsKey = "recentModels";

    /// Reads the list saved by earlier runs.
    explicit RecentModelsMenu(QWidget* parent = nullptr);

    /// Newest first, at most kMaxEntries, no duplicates.
    QStringList folders() const { return m_folders; }

public Q_SLOTS:
    /// Puts the folder first (moving it if already listed) and saves the list.
    void addFolder(const QString& folder);
    /// Forgets every folder and saves the empty list.
    void clearFolders();

Q_SIGNALS:
    void folderChosen(const QString& folder);
    /// The list changed (a folder added, or all cleared): the start page shows it too.
    void foldersChanged(const QStringList& folders);

private:
    void save();
    void rebuild();

    QStringList m_folders;
};

}  // namespace gqa
