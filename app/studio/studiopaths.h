// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Where the studio keeps its files: one folder per user, `<generic data>/GQA Studio` (on Linux
// ~/.local/share/GQA Studio), with the per-model run files and the default run folders under
// runs/. Not QStandardPaths::AppDataLocation, which nests the application name under the
// organisation name ("GQA Studio/GQA Studio") because QSettings needs both set.

#include <QString>

namespace gqa {

/// <generic data location>/<application name>; "GQA Studio" when no application is running.
QString studioDataFolder();

/// studioDataFolder()/runs: the studio's run files and the Training tab's default run folders.
QString studioRunsFolder();

/// The demo's text (emma.txt, persuasion.txt and the other novels): the installed or build-tree
/// share/gqa-studio/text (core's demoTextDir), else data/corpus/text in the working directory (a
/// checkout); empty when neither exists. No build path is compiled in, so an installed studio
/// finds exactly what the package ships.
QString demoTextFolder();

}  // namespace gqa
