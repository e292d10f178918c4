// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The studio's main window: File (Open Model Folder…, Quit), Help (About), a status bar and the
// ModelPanel in the centre. Opening a folder reads only config.json and the safetensors headers
// (gqa::summarizeModelFolder), which is fast, so it runs on the GUI thread. A folder that fails to
// load keeps the previous model on screen; the error goes to the error reporter (a modal
// QMessageBox::critical by default, replaceable so tests and the --screenshot mode never block).

#include <functional>

#include <QMainWindow>
#include <QString>

class QAction;
class QDragEnterEvent;
class QDropEvent;

namespace gqa {

class ModelPanel;

class MainWindow : public QMainWindow {
    Q_OBJECT
public:
    /// Receives a failed load: a title and the message (InputError text).
    using ErrorReporter = std::function<void(const QString& title, const QString& message)>;

    explicit MainWindow(QWidget* parent = nullptr);

    /// Reads the folder and shows it; on failure reports the error, keeps the previous state and
    /// returns false. Never throws.
    bool openModelFolder(const QString& folder);
    /// The folder on screen; empty when none.
    QString currentFolder() const { return m_folder; }
    ModelPanel* modelPanel() const { return m_panel; }
    void setErrorReporter(ErrorReporter reporter);
    /// Rich text of Help > About: name, version, Qt versions.
    static QString aboutText();

public Q_SLOTS:
    /// Asks for a folder with a directory dialog, then opens it.
    void chooseModelFolder();
    void showAbout();

Q_SIGNALS:
    void modelOpened(const QString& folder);
    void loadFailed(const QString& folder, const QString& message);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;

private:
    void createMenus();
    void updateTitle();
    void reportError(const QString& folder, const QString& message);

    ModelPanel* m_panel = nullptr;
    QAction* m_openAction = nullptr;
    QString m_folder;
    QString m_lastDialogDir;
    ErrorReporter m_errorReporter;
};

}  // namespace gqa
