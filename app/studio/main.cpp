// SPDX-License-Identifier: GPL-3.0-or-later
// GQA Studio: the desktop front end. `gqa-studio [FOLDER] [--screenshot FILE]`.
// Without FOLDER it opens $GQA_STUDIO_DEFAULT_MODEL when set, else shows the empty state.
// --screenshot grabs the window to a PNG once it is shown and painted, then quits (exit 1 when
// the model fails to load or the PNG cannot be written), for documentation and end-to-end tests.

#include <cstdio>
#include <memory>

#include <QApplication>
#include <QCommandLineParser>
#include <QPixmap>
#include <QTimer>
#include <QWindow>

#include "mainwindow.h"

namespace {

constexpr int kSettleMs = 300;  // layouts and column sizes settle after the first paint
constexpr int kMaxExposeWaitMs = 10000;

void printError(const QString& text) {
    std::fprintf(stderr, "gqa-studio: %s\n", text.toLocal8Bit().constData());
}

// Waits until the window is exposed (painted by the platform), then lets it settle and grabs it.
void scheduleScreenshot(gqa::MainWindow* window, const QString& file, int waitedMs = 0) {
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

    QCommandLineParser parser;
    parser.setApplicationDescription(
        QStringLiteral("Convert multi-head-attention Llama models to grouped-query attention."));
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
    parser.process(*app);
    if (!qobject_cast<QApplication*>(app.get())) return 0;  // help/version already printed

    const QStringList positional = parser.positionalArguments();
    if (positional.size() > 1) {
        printError(QStringLiteral("expected at most one model folder"));
        return 2;
    }
    QString folder = positional.isEmpty() ? QString() : positional.front();
    if (folder.isEmpty()) folder = qEnvironmentVariable("GQA_STUDIO_DEFAULT_MODEL");
    const QString screenshot = parser.value(screenshotOption);

    gqa::MainWindow window;
    if (!screenshot.isEmpty()) {
        window.setErrorReporter([](const QString& title, const QString& message) {
            printError(title + QStringLiteral(": ") + message);
        });
        if (!folder.isEmpty() && !window.openModelFolder(folder)) return 1;
        window.show();
        scheduleScreenshot(&window, screenshot);
        return app->exec();
    }

    window.show();
    if (!folder.isEmpty()) {
        // After the event loop starts, so that an error dialog sits over a visible window.
        QTimer::singleShot(0, &window, [&window, folder] { window.openModelFolder(folder); });
    }
    return app->exec();
}
