// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Where the studio's controls are on screen, for end-to-end tests that drive it with a real
// pointer (tests/e2e/studio-pointer.sh, xdotool under Xvfb). With GQA_STUDIO_WIDGET_MAP=FILE in
// the environment, the studio rewrites FILE (atomically) every kIntervalMs with one JSON entry per
// visible named control of every visible window: the global rectangle of its part not clipped by
// a scroll area (controls scrolled out of view are left out), whether it is enabled, and
// its text (button caption, combo item, line edit or label text, slider value). Tabs appear as
// "tab:<caption>", the buttons of message boxes and dialogs as "button:<caption>". The test only
// reads the file; every action goes through X input events as a user's would.

#include <QObject>
#include <QString>

class QTimer;

namespace gqa {

class WidgetMapWriter : public QObject {
    Q_OBJECT
public:
    static constexpr int kIntervalMs = 200;
    static constexpr const char* kEnvironmentVariable = "GQA_STUDIO_WIDGET_MAP";

    /// Starts writing `path` every kIntervalMs.
    WidgetMapWriter(const QString& path, QObject* parent);
    /// The map of the current screen as JSON text.
    static QByteArray currentMap();
    void write();

private:
    QString m_path;
    QTimer* m_timer = nullptr;
};

}  // namespace gqa
