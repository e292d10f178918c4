// SPDX-License-Identifier: GPL-3.0-or-later
#include "mainwindow.h"

#include <algorithm>

#include <exception>

#include <QAction>
#include <QDir>
#include <QDragEnterEvent>
#include <QDropEvent>
#include <QElapsedTimer>
#include <QFile>
#include <QFileDialog>
#include <QFileInfo>
#include <QKeySequence>
#include <QMenuBar>
#include <QMessageBox>
#include <QScreen>
#include <QMimeData>
#include <QSettings>
#include <QCloseEvent>
#include <QStatusBar>
#include <QTabWidget>
#include <QUrl>

#include "aboutdialog.h"
#include "conversionwizard.h"
#include "groupingpane.h"
#include "base/error.h"
#include "base/installlayout.h"
#include "modelpanel.h"
#include "io/modelsummary.h"
#include "recentmodelsmenu.h"
#include "similaritypanel.h"
#include "trainingpanel.h"

namespace gqa {
namespace {
const QString kAppName = QStringLiteral("GQA Studio");
/// How long a status-bar message about a finished action stays: long enough to read, short enough
/// that it does not describe an earlier action once the user has moved on.
constexpr int kTransientMessageMs = 8000;

QString localFolderOf(const QMimeData* mime) {
    if (!mime || !mime->hasUrls() || mime->urls().size() != 1) return {};
    const QUrl url = mime->urls().front();
    if (!url.isLocalFile() || !QFileInfo(url.toLocalFile()).isDir()) return {};
    return url.toLocalFile();
}
}  // namespace

MainWindow::MainWindow(QWidget* parent) : QMainWindow(parent) {
    m_tabs = new QTabWidget(this);
    m_tabs->setObjectName(QStringLiteral("mainTabs"));
    m_tabs->setDocumentMode(true);
    m_panel = new ModelPanel(m_tabs);
    m_tabs->addTab(m_panel, tr("Model"));
    m_similarity = new SimilarityPanel(m_tabs);
    m_tabs->addTab(m_similarity, tr("Similarity"));
    connect(this, &MainWindow::modelOpened, m_similarity, &SimilarityPanel::setModelFolder);
    m_training = new TrainingPanel(m_tabs);
    m_tabs->addTab(m_training, tr("Training"));
    connect(m_similarity->groupingPane(), &GroupingPane::useGroupsRequested, this,
            &MainWindow::useGroupsForTraining);
    setCentralWidget(m_tabs);
    m_confirmClose = [this] {
        return QMessageBox::question(this, tr("Training is running"),
                                     tr("A conversion run is in progress. Pause it (a checkpoint "
                                        "is written; starting it again resumes) and quit?")) ==
               QMessageBox::Yes;
    };
    connect(m_panel, &ModelPanel::openFolderRequested, this, &MainWindow::chooseModelFolder);
    createMenus();
    setAcceptDrops(true);
    m_errorReporter = [this](const QString& title, const QString& message) {
        QMessageBox::critical(this, title, message);
    };
    statusBar()->showMessage(tr("No model open. Use File › Open Model Folder… (Ctrl+O)."));
    updateTitle();
    fitToScreen();
}

void MainWindow::fitToScreen() {
    // The size every view is laid out for, shrunk to the screen on smaller displays (every view
    // stays usable down to 1024 x 640: scroll areas take what does not fit).
    const QSize preferred = preferredSize();
    const QRect available = screen() ? screen()->availableGeometry() : QRect(QPoint(), preferred);
    resize(preferred.boundedTo(available.size()));
}

void MainWindow::useGroupsForTraining(const GroupingData& grouping) {
    std::vector<std::vector<std::vector<std::int64_t>>> groupings;
    int edited = 0;
    for (const LayerGrouping& layer : grouping.layers) {
        std::vector<std::vector<std::int64_t>> groups;
        for (const QVector<int>& group : layer.groups)
            groups.emplace_back(group.begin(), group.end());
        groupings.push_back(std::move(groups));
        edited += layer.edited ? 1 : 0;
    }
    const QString driver = QStringLiteral("%1 · %2").arg(kindLabel(grouping.driver.kind),
                                                         criterionLabel(grouping.driver.criterion));
    const QString description =
        edited == 0   ? tr("searched by %1").arg(driver)
        : edited == 1 ? tr("searched by %1, 1 layer edited by hand").arg(driver)
                      : tr("searched by %1, %2 layers edited by hand").arg(driver).arg(edited);
    m_training->setGivenGroups(grouping.groups, groupings, description);
    m_tabs->setCurrentWidget(m_training);
    statusBar()->showMessage(
        tr("The Training tab will convert with these groups (G = %1).").arg(grouping.groups),
        kTransientMessageMs);
}

void MainWindow::createMenus() {
    QMenu* fileMenu = menuBar()->addMenu(tr("&File"));
    m_openAction =
        fileMenu->addAction(tr("&Open Model Folder…"), this, &MainWindow::chooseModelFolder);
    m_openAction->setShortcut(QKeySequence::Open);
    m_openAction->setObjectName(QStringLiteral("openModelFolderAction"));
    QAction* demo = fileMenu->addAction(tr("Open &Demo Model"), this, &MainWindow::openDemoModel);
    demo->setEnabled(!demoModelFolder().isEmpty());
    m_recentMenu = new RecentModelsMenu(this);
    connect(m_recentMenu, &RecentModelsMenu::folderChosen, this, &MainWindow::openModelFolder);
    // The start page (no model open) offers the demo and the recent models too.
    m_panel->setDemoAvailable(!demoModelFolder().isEmpty());
    m_panel->setRecentFolders(m_recentMenu->folders());
    connect(m_recentMenu, &RecentModelsMenu::foldersChanged, m_panel,
            &ModelPanel::setRecentFolders);
    connect(m_panel, &ModelPanel::openDemoRequested, this, &MainWindow::openDemoModel);
    connect(m_panel, &ModelPanel::recentFolderChosen, this, &MainWindow::openModelFolder);
    fileMenu->addMenu(m_recentMenu);
    fileMenu->addSeparator();
    QAction* convert = fileMenu->addAction(tr("&Convert…"), this, [this] {
        auto* wizard = new ConversionWizard(m_folder, this);
        wizard->setAttribute(Qt::WA_DeleteOnClose);
        wizard->show();
    });
    convert->setObjectName(QStringLiteral("convertAction"));
    fileMenu->addSeparator();
    QAction* quit = fileMenu->addAction(tr("&Quit"), this, &QWidget::close);
    quit->setShortcut(QKeySequence::Quit);
    quit->setMenuRole(QAction::QuitRole);

    QMenu* helpMenu = menuBar()->addMenu(tr("&Help"));
    QAction* about = helpMenu->addAction(tr("&About GQA Studio"), this, &MainWindow::showAbout);
    about->setMenuRole(QAction::AboutRole);
}

void MainWindow::setErrorReporter(ErrorReporter reporter) { m_errorReporter = std::move(reporter); }

bool MainWindow::openModelFolder(const QString& folder) {
    const QString cleaned = QDir::cleanPath(folder);
    QElapsedTimer timer;
    timer.start();
    ModelSummary summary;
    try {
        summary = summarizeModelFolder(QFile::encodeName(cleaned).toStdString());
    } catch (const InputError& e) {
        reportError(cleaned, QString::fromStdString(e.what()));
        return false;
    } catch (const std::exception& e) {
        reportError(cleaned, tr("Unexpected error while reading %1:\n%2")
                                 .arg(cleaned, QString::fromLocal8Bit(e.what())));
        return false;
    }
    m_panel->showSummary(summary);
    m_training->setModel(cleaned, int(summary.config.numHeads), int(summary.config.numLayers));
    m_folder = cleaned;
    if (m_rememberSession) m_recentMenu->addFolder(cleaned);
    updateTitle();
    const std::size_t problemCount = summary.problems.size();
    const QString problems = problemCount == 0   ? QString()
                             : problemCount == 1 ? tr(", 1 problem")
                                                 : tr(", %1 problems").arg(problemCount);
    statusBar()->showMessage(tr("Opened %1 (%2 tensors%3) in %4 ms")
                                 .arg(QDir::toNativeSeparators(cleaned))
                                 .arg(summary.tensors.size())
                                 .arg(problems)
                                 .arg(timer.elapsed()),
                             kTransientMessageMs);
    Q_EMIT modelOpened(cleaned);
    return true;
}

void MainWindow::reportError(const QString& folder, const QString& detail) {
    const QString shown = QDir::toNativeSeparators(folder);
    statusBar()->showMessage(tr("Not a model folder: %1").arg(shown), kTransientMessageMs);
    // The plain statement first, the reader's technical reason below it.
    const QString message =
        tr("%1 is not a model folder GQA Studio can open.\n\n"
           "A model folder holds a Hugging Face config.json and the model's .safetensors weights "
           "(and a tokenizer.model for training).\n\nDetails: %2")
            .arg(shown, detail);
    Q_EMIT loadFailed(folder, message);
    if (m_errorReporter) m_errorReporter(tr("Not a model folder"), message);
}

void MainWindow::reportMissingDemo(const QString& lookedIn) {
    const QString message = tr("The demo model is not installed (looked in %1).")
                                .arg(QDir::toNativeSeparators(lookedIn));
    statusBar()->showMessage(message, kTransientMessageMs);
    Q_EMIT loadFailed(lookedIn, message);
    if (m_errorReporter) m_errorReporter(tr("No demo model"), message);
}

void MainWindow::updateTitle() {
    if (m_folder.isEmpty()) {
        setWindowTitle(kAppName);
        return;
    }
    QString name = QFileInfo(m_folder).fileName();
    if (name.isEmpty()) name = m_folder;  // the root folder
    setWindowTitle(QStringLiteral("%1 — %2").arg(name, kAppName));
}

void MainWindow::chooseModelFolder() {
    QString start = m_lastDialogDir;
    if (start.isEmpty() && !m_folder.isEmpty()) start = QFileInfo(m_folder).absolutePath();
    const QString folder = QFileDialog::getExistingDirectory(this, tr("Open Model Folder"), start);
    if (folder.isEmpty()) return;
    m_lastDialogDir = QFileInfo(folder).absolutePath();
    openModelFolder(folder);
}

void MainWindow::showAbout() {
    AboutDialog dialog(this);
    dialog.exec();
}

QString MainWindow::demoModelFolder() {
    const QString folder = QFile::decodeName(demoModelDir().c_str());
    return !folder.isEmpty() && QFileInfo(folder).isDir() ? folder : QString();
}

bool MainWindow::openDemoModel() {
    const QString folder = demoModelFolder();
    if (folder.isEmpty()) {
        reportMissingDemo(QFile::decodeName(demoModelDir().c_str()));
        return false;
    }
    return openModelFolder(folder);
}

void MainWindow::rememberSession() {
    m_rememberSession = true;
    const QSettings settings;
    restoreGeometry(settings.value(QStringLiteral("mainWindow/geometry")).toByteArray());
    restoreState(settings.value(QStringLiteral("mainWindow/state")).toByteArray());
}

void MainWindow::dragEnterEvent(QDragEnterEvent* event) {
    if (!localFolderOf(event->mimeData()).isEmpty()) event->acceptProposedAction();
}

void MainWindow::dropEvent(QDropEvent* event) {
    const QString folder = localFolderOf(event->mimeData());
    if (folder.isEmpty()) return;
    event->acceptProposedAction();
    openModelFolder(folder);
}

void MainWindow::closeEvent(QCloseEvent* event) {
    // Training runs in the Training tab or in an open conversion wizard.
    const QList<ConversionWizard*> wizards = findChildren<ConversionWizard*>();
    const bool wizardTraining = std::any_of(wizards.begin(), wizards.end(),
                                            [](auto* w) { return w->runner()->isRunning(); });
    if (m_training->isRunning() || wizardTraining) {
        if (!m_confirmClose || !m_confirmClose()) {
            event->ignore();
            return;
        }
        statusBar()->showMessage(tr("Pausing the run: writing a checkpoint…"));
        m_training->pauseRun();
        m_training->runner()->wait(-1);
        for (ConversionWizard* w : wizards) w->stopWork();
    }
    if (m_rememberSession) {
        QSettings settings;
        settings.setValue(QStringLiteral("mainWindow/geometry"), saveGeometry());
        settings.setValue(QStringLiteral("mainWindow/state"), saveState());
    }
    event->accept();
}

}  // namespace gqa
