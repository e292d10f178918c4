// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What `gqa-studio --screenshot` shows besides the opened model: which tab (--tab NAME, matched
// against the tab titles without case or '&') and whether the similarity analysis runs first
// (--analyse, optionally on --calibration-text FILE instead of the bundled corpus text), and
// whether a short conversion run trains first (--train-steps N, Training tab). The screenshot
// waits for the analysis and its first grouping, or for the run's export, so the PNG shows
// finished plots.

#include <functional>

#include <QString>
#include <QStringList>

namespace gqa {

class MainWindow;

struct ScreenshotScenario {
    QString tab;                  ///< empty: the window's current tab
    bool analyse = false;         ///< run the similarity analysis before the screenshot
    QStringList calibrationText;  ///< empty: the panel's default text
    int trainSteps = 0;  ///< > 0: run a conversion of this many updates (batch 2 x 128) first
};

/// Selects the tab whose title matches `name`; false (and nothing changes) when none does.
bool selectTab(MainWindow& window, const QString& name);
/// Sets the window up as `scenario` asks and calls `ready` once it is done, or `failed` with a
/// message (unknown tab, no model open, analysis failed). Call after the model is opened.
void prepareScenario(MainWindow& window, const ScreenshotScenario& scenario,
                     const std::function<void()>& ready,
                     const std::function<void(const QString&)>& failed);

}  // namespace gqa
