// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The studio's main window: File (Open Model Folder…, Open Demo Model, Recent Models, Quit), Help
// (About), a status bar and, in
// the centre, one tab per panel: the ModelPanel, then the stage panels (similarity, training).
// Opening a folder reads only config.json and the safetensors headers (gqa::summarizeModelFolder),
// which is fast, so it runs on the GUI thread. A folder that fails to load keeps the previous model
// on screen; the error goes to the error reporter (a modal QMessageBox::critical by default,
// replaceable so tests and the --screenshot mode never block). With rememberSession() the window
// restores its geometry and state from the last run, records opened folders in Recent Models and
// saves its geometry and state on close (QSettings).

#include <functional>

#include <QMainWindow>
#include <QSize>
#include <QString>

class QAction;
class QCloseEvent;
class QTabWidget;
class QDragEnterEvent;
class QDropEvent;

namespace gqa {

class ModelPanel;
class RecentModelsMenu;
class SimilarityPanel;
class TrainingPanel;
struct GroupingData;

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
    /// The central tabs: "Model" first, then one tab per stage panel.
    QTabWidget* tabs() const { return m_tabs; }
    SimilarityPanel* similarityPanel() const { return m_similarity; }
    TrainingPanel* trainingPanel() const { return m_training; }
    /// Asked when the window closes during a run: true = pause (checkpoint) and close. The
    /// default asks with a QMessageBox; tests replace it.
    void setCloseConfirmer(std::function<bool()> confirmer) {
        m_confirmClose = std::move(confirmer);
    }
    void setErrorReporter(ErrorReporter reporter);
    RecentModelsMenu* recentModelsMenu() const { return m_recentMenu; }
    /// Restores the window geometry and state saved by the last run and, from now on, records
    /// opened folders in Recent Models and saves geometry and state on close. Off until called,
    /// so that tests and --screenshot neither read nor write the user's settings.
    void rememberSession();
    /// The bundled demo model (gqa::demoModelDir(), next to the executable); empty when missing.
    static QString demoModelFolder();
    /// The window size the views are designed for (a 1280 x 800 laptop screen); screenshots are
    /// taken at this size whatever the screen.
    static QSize preferredSize() { return {1280, 800}; }

public Q_SLOTS:
    /// Asks for a folder with a directory dialog, then opens it.
    void chooseModelFolder();
    /// Opens demoModelFolder(); reports an error when the demo model is not installed.
    bool openDemoModel();
    void showAbout();

Q_SIGNALS:
    void modelOpened(const QString& folder);
    void loadFailed(const QString& folder, const QString& message);

protected:
    void dragEnterEvent(QDragEnterEvent* event) override;
    void dropEvent(QDropEvent* event) override;
    void closeEvent(QCloseEvent* event) override;

private:
    void createMenus();
    /// The Similarity tab's "Use these groups for training": hands them to the Training tab.
    void useGroupsForTraining(const GroupingData& grouping);
    void updateTitle();
    /// Sizes the window to preferredSize() or the screen, whichever is smaller.
    void fitToScreen();
    /// "FOLDER is not a model folder", what one is, then `detail` (the reader's reason).
    void reportError(const QString& folder, const QString& detail);
    void reportMissingDemo(const QString& lookedIn);

    QTabWidget* m_tabs = nullptr;
    ModelPanel* m_panel = nullptr;
    SimilarityPanel* m_similarity = nullptr;
    TrainingPanel* m_training = nullptr;
    std::function<bool()> m_confirmClose;
    QAction* m_openAction = nullptr;
    RecentModelsMenu* m_recentMenu = nullptr;
    bool m_rememberSession = false;
    QString m_folder;
    QString m_lastDialogDir;
    ErrorReporter m_errorReporter;
};

}  // namespace gqa
