// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The question the Training tab asks when Start finds a run in the output folder: resume it,
// overwrite it, keep it and choose another folder, or cancel. A message box of its own file so
// that the panel's tests can replace it (TrainingPanel::setExistingRunChooser).

#include "trainingpanel.h"

namespace gqa {

TrainingPanel::ExistingRunChoice askAboutExistingRun(QWidget* parent, const QString& folder);

}  // namespace gqa
