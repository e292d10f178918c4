// SPDX-License-Identifier: GPL-3.0-or-later
// The studio as a desktop application, offscreen: the About dialog lists the versions of the
// libraries it runs on; Recent Models keeps folders newest first across runs; the main window
// remembers its session only when asked (so tests and --screenshot never touch the user's
// settings); the demo model is found next to the executable in the build tree, as when installed.
#include <QAction>
#include <QApplication>
#include <QClipboard>
#include <QDir>
#include <QFileInfo>
#include <QMenuBar>
#include <QPushButton>
#include <QRegularExpression>
#include <QSettings>
#include <QSignalSpy>
#include <QStandardPaths>
#include <QTabWidget>
#include <QTemporaryDir>
#include <gtest/gtest.h>

#include "aboutdialog.h"
#include "mainwindow.h"
#include "modelpanel.h"
#include "recentmodelsmenu.h"
#include "studiopaths.h"
#include "testsupport.h"

namespace gqa {
namespace {

// Every test starts from empty settings of its own (ctest runs test processes in parallel), in a
// temporary folder, never the user's.
class StudioApp : public ::testing::Test {
protected:
    void SetUp() override {
        ASSERT_TRUE(m_settingsDir.isValid());
        QCoreApplication::setOrganizationName(QStringLiteral("GQA Studio"));
        QCoreApplication::setApplicationName(QStringLiteral("GQA Studio"));
        QSettings::setPath(QSettings::NativeFormat, QSettings::UserScope, m_settingsDir.path());
        ASSERT_TRUE(QSettings().allKeys().isEmpty());
    }

    QTemporaryDir m_settingsDir;
};

QStringList actionTexts(const QMenu& menu) {
    QStringList texts;
    for (const QAction* action : menu.actions())
        if (!action->isSeparator()) texts << action->text();
    return texts;
}

TEST_F(StudioApp, AboutDialogListsTheLibraryVersions) {
    const QString text = AboutDialog::versionsText();
    EXPECT_TRUE(text.startsWith(QStringLiteral("GQA Studio: " GQA_VERSION "\n")))
        << text.toStdString();
    EXPECT_TRUE(text.contains(QStringLiteral("Qt: %1").arg(QString::fromLatin1(qVersion()))));
    EXPECT_TRUE(text.contains(QRegularExpression(QStringLiteral("LibTorch: 1\\.13\\.\\d+ \\(CPU"))))
        << text.toStdString();
    EXPECT_TRUE(text.contains(QRegularExpression(QStringLiteral("HDF5: 1\\.\\d+\\.\\d+\n"))));
    EXPECT_TRUE(text.contains(QStringLiteral("QCustomPlot: 2.")));
    // LibTorch links libblas.so.3; the About dialog shows which provider the system picked.
    EXPECT_TRUE(text.contains(QRegularExpression(QStringLiteral("BLAS: /.*libblas\\.so"))));
    EXPECT_TRUE(text.contains(QStringLiteral("libgqa_spm.so"))) << text.toStdString();

    AboutDialog dialog;
    auto* copy = dialog.findChild<QPushButton*>(QStringLiteral("copyVersionsButton"));
    ASSERT_NE(copy, nullptr);
    copy->click();
    EXPECT_EQ(QApplication::clipboard()->text(), text);
}

// The run files and default run folders lived in ".../GQA Studio/GQA Studio/runs": Qt's
// AppDataLocation nests the application under the organisation, and both are set.
TEST_F(StudioApp, DataFolderNamesTheStudioOnce) {
    const QString generic = QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation);
    EXPECT_EQ(studioRunsFolder(), QDir(generic).filePath(QStringLiteral("GQA Studio/runs")));
    EXPECT_FALSE(studioRunsFolder().contains(QStringLiteral("GQA Studio/GQA Studio")));
}

TEST_F(StudioApp, HelpMenuOpensTheAboutDialog) {
    MainWindow window;
    QStringList titles;
    for (const QAction* action : window.menuBar()->actions()) titles << action->text();
    ASSERT_TRUE(titles.contains(QStringLiteral("&Help")));
    bool found = false;
    for (QAction* top : window.menuBar()->actions())
        if (top->menu())
            for (const QAction* action : top->menu()->actions())
                found |= action->menuRole() == QAction::AboutRole;
    EXPECT_TRUE(found);
}

TEST_F(StudioApp, RecentModelsAreNewestFirstAndSurviveARestart) {
    QTemporaryDir dir;
    ASSERT_TRUE(dir.isValid());
    QStringList folders;
    for (int i = 0; i < RecentModelsMenu::kMaxEntries + 2; ++i) {
        folders << dir.filePath(QStringLiteral("model%1").arg(i));
        ASSERT_TRUE(QDir().mkpath(folders.back()));
    }
    {
        RecentModelsMenu menu;
        EXPECT_TRUE(menu.folders().isEmpty());
        for (const QString& folder : folders) menu.addFolder(folder);
        menu.addFolder(folders.at(5));  // opened again: moves to the front, no duplicate
        ASSERT_EQ(menu.folders().size(), RecentModelsMenu::kMaxEntries);
        EXPECT_EQ(menu.folders().at(0), QDir::cleanPath(folders.at(5)));
        EXPECT_EQ(menu.folders().at(1), QDir::cleanPath(folders.back()));
        EXPECT_FALSE(
            menu.folders().contains(QDir::cleanPath(folders.at(0))));  // the oldest fell off
    }
    RecentModelsMenu restarted;  // reads what the first one saved
    ASSERT_EQ(restarted.folders().size(), RecentModelsMenu::kMaxEntries);
    EXPECT_EQ(restarted.folders().at(0), QDir::cleanPath(folders.at(5)));
    const QStringList texts = actionTexts(restarted);
    EXPECT_TRUE(texts.at(0).startsWith(QStringLiteral("&1 model5  (")));
    EXPECT_EQ(texts.back(), QStringLiteral("&Clear Menu"));

    // Choosing an entry asks for that folder; a folder that has gone away is disabled.
    QSignalSpy chosen(&restarted, &RecentModelsMenu::folderChosen);
    restarted.actions().at(1)->trigger();
    ASSERT_EQ(chosen.count(), 1);
    EXPECT_EQ(chosen.at(0).at(0).toString(), QDir::cleanPath(folders.back()));
    ASSERT_TRUE(QDir(folders.at(5)).removeRecursively());
    Q_EMIT restarted.aboutToShow();
    EXPECT_FALSE(restarted.actions().at(0)->isEnabled());
    EXPECT_TRUE(restarted.actions().at(1)->isEnabled());

    restarted.clearFolders();
    EXPECT_TRUE(RecentModelsMenu().folders().isEmpty());
}

TEST_F(StudioApp, MainWindowRemembersItsSessionOnlyWhenAsked) {
    const QString folder = QString::fromStdString(test::writeRandomModel(test::tinyConfig(2), 11));
    {
        MainWindow window;  // as in tests and --screenshot: nothing recorded
        window.setErrorReporter(
            [](const QString&, const QString& message) { ADD_FAILURE() << message.toStdString(); });
        ASSERT_TRUE(window.openModelFolder(folder));
        window.close();
    }
    EXPECT_TRUE(RecentModelsMenu().folders().isEmpty());
    EXPECT_FALSE(QSettings().contains(QStringLiteral("mainWindow/geometry")));

    {
        MainWindow window;
        window.rememberSession();
        window.resize(1000, 640);  // above the minimum width (EveryTabFitsA1024By640Screen)
        window.show();
        ASSERT_TRUE(window.openModelFolder(folder));
        EXPECT_EQ(window.recentModelsMenu()->folders(), QStringList{QDir::cleanPath(folder)});
        window.close();
    }
    EXPECT_TRUE(QSettings().contains(QStringLiteral("mainWindow/geometry")));
    MainWindow next;
    next.rememberSession();
    EXPECT_EQ(next.size(), QSize(1000, 640));
    EXPECT_EQ(next.recentModelsMenu()->folders(), QStringList{QDir::cleanPath(folder)});
}

TEST_F(StudioApp, DemoModelIsFoundNextToTheExecutable) {
    // build/bin/gqa_widget_tests -> build/share/gqa-studio/models/demo, as in an installed tree.
    const QString demo = MainWindow::demoModelFolder();
    ASSERT_FALSE(demo.isEmpty());
    EXPECT_TRUE(QFileInfo(QDir(demo).filePath(QStringLiteral("config.json"))).isFile());
    MainWindow window;
    window.setErrorReporter(
        [](const QString&, const QString& message) { ADD_FAILURE() << message.toStdString(); });
    ASSERT_TRUE(window.openDemoModel());
    EXPECT_TRUE(window.modelPanel()->hasModel());
}

// Layout at 1024 x 640 (a small laptop screen, less a title bar): the window's minimum size,
// which every tab contributes to, must fit, or the window grows past the screen and cuts off the
// settings and the grouping column (as it did with a 1280-pixel minimum).
TEST_F(StudioApp, EveryTabFitsA1024By640Screen) {
    constexpr int kScreenWidth = 1024;
    constexpr int kScreenHeight = 640 - 40;  // a window manager's title bar
    MainWindow window;
    window.setErrorReporter(
        [](const QString&, const QString& message) { ADD_FAILURE() << message.toStdString(); });
    ASSERT_TRUE(window.openDemoModel());
    window.show();
    for (int tab = 0; tab < window.tabs()->count(); ++tab) {
        window.tabs()->setCurrentIndex(tab);
        QApplication::processEvents();
        const QSize minimum = window.minimumSizeHint();
        EXPECT_LE(minimum.width(), kScreenWidth) << window.tabs()->tabText(tab).toStdString();
        EXPECT_LE(minimum.height(), kScreenHeight) << window.tabs()->tabText(tab).toStdString();
    }
}

// Started without a model, the window offers the demo and the recent models, not an empty page.
TEST_F(StudioApp, StartPageOffersTheDemoAndTheRecentModels) {
    const QString folder = QString::fromStdString(test::writeRandomModel(test::tinyConfig(2), 12));
    RecentModelsMenu().addFolder(folder);  // an earlier session's model
    MainWindow window;
    window.setErrorReporter(
        [](const QString&, const QString& message) { ADD_FAILURE() << message.toStdString(); });
    window.resize(1024, 640);
    window.show();
    auto* demo = window.findChild<QPushButton*>(QStringLiteral("openDemoButton"));
    ASSERT_NE(demo, nullptr);
    EXPECT_TRUE(demo->isVisible());
    auto* recent = window.findChild<QWidget*>(QStringLiteral("recentModelsBox"));
    ASSERT_NE(recent, nullptr);
    ASSERT_TRUE(recent->isVisible());
    QPushButton* entry = nullptr;
    for (auto* button : recent->findChildren<QPushButton*>())
        if (button->text() == QFileInfo(folder).fileName()) entry = button;
    ASSERT_NE(entry, nullptr);
    entry->click();
    EXPECT_TRUE(window.modelPanel()->hasModel());
    EXPECT_EQ(QFileInfo(window.currentFolder()).canonicalFilePath(),
              QFileInfo(folder).canonicalFilePath());

    MainWindow fresh;
    fresh.setErrorReporter(
        [](const QString&, const QString& message) { ADD_FAILURE() << message.toStdString(); });
    fresh.findChild<QPushButton*>(QStringLiteral("openDemoButton"))->click();
    EXPECT_TRUE(fresh.modelPanel()->hasModel());
    EXPECT_EQ(QFileInfo(fresh.currentFolder()).canonicalFilePath(),
              QFileInfo(MainWindow::demoModelFolder()).canonicalFilePath());
}

}  // namespace
}  // namespace gqa
