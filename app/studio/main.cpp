// SPDX-License-Identifier: GPL-3.0-or-later
// GQA Studio: the desktop front end. `gqa-studio [FOLDER | --demo] [--about] [--screenshot FILE]`.
// Without FOLDER it opens $GQA_STUDIO_DEFAULT_MODEL when set, else shows the empty state; --demo
// opens the bundled demo model (found next to the executable, see installlayout.h). Interactive
// runs remember the window geometry and recent models (QSettings).
// --screenshot grabs the window (with --about: the About dialog) to a PNG once it is shown and
// painted (with --tab NAME on that tab; with --analyse after the similarity analysis), then quits
// (exit 1 when the model fails to load or the PNG cannot be written), for documentation and
// end-to-end tests; it neither reads nor writes the settings.

#include <cstdio>
#include <memory>

#include <QApplication>
#include <QCommandLineParser>
#include <QIcon>
#include <QPixmap>
#include <QTimer>
#include <QWindow>

#include "aboutdialog.h"
#include "mainwindow.h"
#include "screenshotscenario.h"
#include "widgetmap.h"

namespace {

constexpr int kSettleMs = 300;  // layouts and column sizes settle after the first paint
constexpr int kMaxExposeWaitMs = 10000;

// The icon PNGs rendered from packaging/io.github.gqastudio.GqaStudio.svg, embedded (icons.qrc).
QIcon applicationIcon() {
    QIcon icon;
    for (const int size : {16, 24, 32, 48, 64, 128, 256})
        icon.addFile(QStringLiteral(":/icons/%1.png").arg(size), QSize(size, size));
    return icon;
}

void printError(const QString& text) {
    std::fprintf(stderr, "gqa-studio: %s\n", text.toLocal8Bit().constData());
}

// Waits until the window is exposed (painted by the platform), then lets it settle and grabs it.
void scheduleScreenshot(QWidget* window, const QString& file, int waitedMs = 0) {
    QWindow* handle = window->windowHandle();
    const bool exposed = handle && handle->isExposed();
    if (!exposed && waitedMs < kMaxExposeWaitMs) {
        QTimer::singleShot(50, window, [=] { scheduleScreenshot(window, file, waitedMs + 50); });
        return;
    }
    QTimer::singleShot(kSettleMs, window, [window, file] {
        window->repaint();
        const QPixmap pixmap = window->grab();
        if (pixmap.isNull() || !pixmap.save(file, "PNG")) {
            printError(QStringLiteral("could not write screenshot %1").arg(file));
            QCoreApplication::exit(1);
            return;
        }
        QCoreApplication::exit(0);
    });
}

// --help and --version print and exit; they must work without a display.
bool onlyPrints(int argc, char* argv[]) {
    for (int i = 1; i < argc; ++i) {
        const QByteArray arg(argv[i]);
        if (arg == "-h" || arg == "--help" || arg == "--help-all" || arg == "-v" ||
            arg == "--version")
            return true;
    }
    return false;
}

}  // namespace

int main(int argc, char* argv[]) {
    std::unique_ptr<QCoreApplication> app;
    if (onlyPrints(argc, argv))
        app = std::make_unique<QCoreApplication>(argc, argv);
    else
        app = std::make_unique<QApplication>(argc, argv);
    QApplication::setApplicationName(QStringLiteral("GQA Studio"));
    QApplication::setOrganizationName(QStringLiteral("GQA Studio"));
    QApplication::setApplicationVersion(QStringLiteral(GQA_VERSION));
    QGuiApplication::setDesktopFileName(QStringLiteral("io.github.gqastudio.GqaStudio"));

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Convert multi-head-attention models (Llama, Qwen2, Gemma, Phi, StableLM, "
                       "OLMo, Mistral) to grouped-query attention."));
    parser.addHelpOption();
    parser.addVersionOption();
    parser.addPositionalArgument(
        QStringLiteral("folder"),
        QStringLiteral("Model folder to open (config.json + safetensors)."),
        QStringLiteral("[folder]"));
    const QCommandLineOption screenshotOption(
        QStringLiteral("screenshot"),
        QStringLiteral("Grab the window to a PNG once it is painted, then quit."),
        QStringLiteral("file"));
    parser.addOption(screenshotOption);
    const QCommandLineOption demoOption(QStringLiteral("demo"),
                                        QStringLiteral("Open the bundled demo model."));
    parser.addOption(demoOption);
    const QCommandLineOption aboutOption(
        QStringLiteral("about"),
        QStringLiteral("Show the About dialog (with --screenshot: grab the dialog)."));
    parser.addOption(aboutOption);
    const QCommandLineOption tabOption(
        QStringLiteral("tab"), QStringLiteral("Show this tab (model, similarity, training, ...)."),
        QStringLiteral("name"));
    parser.addOption(tabOption);
    const QCommandLineOption analyseOption(
        QStringLiteral("analyse"),
        QStringLiteral("With --screenshot: run the similarity analysis first and wait for it."));
    parser.addOption(analyseOption);
    const QCommandLineOption calibrationOption(
        QStringLiteral("calibration-text"),
        QStringLiteral("Calibration text for --analyse (default: emma.txt of the demo text)."),
        QStringLiteral("file"));
    parser.addOption(calibrationOption);
    const QCommandLineOption trainOption(
        QStringLiteral("train-steps"),
        QStringLiteral(
            "With --screenshot: run a short conversion of N updates first (Training tab)."),
        QStringLiteral("N"));
    parser.addOption(trainOption);
    parser.process(*app);
    if (!qobject_cast<QApplication*>(app.get())) return 0;  // help/version already printed

    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        printError(QStringLiteral("expected at most one model folder"));
        return 2;
    }
    const bool demo = parser.isSet(demoOption);
    if (demo && !positional.isEmpty()) {
        printError(QStringLiteral("give either a model folder or --demo, not both"));
        return 2;
    }
    QString folder = positional.isEmpty() ? QString() : positional.front();
    if (folder.isEmpty() && !demo) folder = qEnvironmentVariable("GQA_STUDIO_DEFAULT_MODEL");
    const QString screenshot = parser.value(screenshotOption);
    QApplication::setWindowIcon(applicationIcon());

    gqa::MainWindow window;
    // End-to-end tests drive the studio with a real pointer and read where its controls are.
    const QString widgetMap = qEnvironmentVariable(gqa::WidgetMapWriter::kEnvironmentVariable);
    if (!widgetMap.isEmpty()) new gqa::WidgetMapWriter(widgetMap, &window);
    // Opens the folder asked for; false (error reported) when it does not load.
    const auto openRequested = [&window, demo, folder] {
        if (demo) return window.openDemoModel();
        return folder.isEmpty() || window.openModelFolder(folder);
    };
    if (!screenshot.isEmpty()) {
        window.setErrorReporter([](const QString& title, const QString& message) {
            printError(title + QStringLiteral(": ") + message);
        });
        if (!openRequested()) return 1;
        window.resize(gqa::MainWindow::preferredSize());  // the same picture on any screen
        window.show();
        QWidget* target = &window;
        std::unique_ptr<gqa::AboutDialog> about;
        if (parser.isSet(aboutOption)) {
            about = std::make_unique<gqa::AboutDialog>(&window);
            about->show();
            target = about.get();
        }
        const gqa::ScreenshotScenario scenario{parser.value(tabOption), parser.isSet(analyseOption),
                                               parser.values(calibrationOption),
                                               parser.value(trainOption).toInt()};
        QTimer::singleShot(0, &window, [&window, scenario, target, screenshot] {
            gqa::prepareScenario(
                window, scenario, [target, screenshot] { scheduleScreenshot(target, screenshot); },
                [](const QString& message) {
                    printError(message);
                    QCoreApplication::exit(1);
                });
        });
        return app->exec();
    }

    window.rememberSession();
    if (parser.isSet(tabOption)) gqa::selectTab(window, parser.value(tabOption));
    window.show();
    // After the event loop starts, so that an error dialog sits over a visible window.
    const bool showAbout = parser.isSet(aboutOption);
    QTimer::singleShot(0, &window, [&window, openRequested, showAbout] {
        openRequested();
        if (showAbout) window.showAbout();
    });
    return app->exec();
}
