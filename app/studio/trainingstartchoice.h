// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The studio's one list of training starts (core's pipeline/trainingstart.h) with the words a
// user reads, shared by the Training tab and the wizard so that both offer the same choice.

#include <QComboBox>
#include <QString>

#include "pipeline/trainingstart.h"

namespace gqa {

/// "aligned heads, least-squares merge (refitted q/o)" and so on.
QString trainingStartLabel(TrainingStart start);
/// What the choice means, for a tooltip.
QString trainingStartHelp();
/// Fills `combo` with every start (item data: the enum's int), the default selected.
void fillTrainingStarts(QComboBox* combo);
TrainingStart selectedTrainingStart(const QComboBox* combo);
void selectTrainingStart(QComboBox* combo, TrainingStart start);

}  // namespace gqa
