// SPDX-License-Identifier: GPL-3.0-or-later
#include "trainingstartchoice.h"

#include <QCoreApplication>

namespace gqa {
namespace {
QString tr(const char* text) { return QCoreApplication::translate("TrainingStart", text); }
}  // namespace

QString trainingStartLabel(TrainingStart start) {
    switch (start) {
        case TrainingStart::LeastSquares:
            return tr("aligned heads, least-squares merge");
        case TrainingStart::AlignedMean:
            return tr("aligned heads, mean merge (the paper)");
        case TrainingStart::MeanPool:
            return tr("consecutive heads, mean-pooled (baseline)");
    }
    return {};
}

QString trainingStartHelp() {
    return tr(
        "What the gates move each head onto.\n"
        "least-squares: similar heads grouped and aligned, each group's mean as its merged "
        "head, and each query head's q/o projections refitted to read it (docs/method.md "
        "§7.2)\n"
        "mean merge: the same groups and merged heads, the query heads' own q/o (the "
        "paper's method)\n"
        "mean-pooled: consecutive heads averaged without alignment (the baseline)");
}

void fillTrainingStarts(QComboBox* combo) {
    combo->clear();
    for (TrainingStart start : trainingStarts())
        combo->addItem(trainingStartLabel(start), static_cast<int>(start));
    combo->setToolTip(trainingStartHelp());
    selectTrainingStart(combo, kDefaultTrainingStart);
}

TrainingStart selectedTrainingStart(const QComboBox* combo) {
    return static_cast<TrainingStart>(combo->currentData().toInt());
}

void selectTrainingStart(QComboBox* combo, TrainingStart start) {
    combo->setCurrentIndex(combo->findData(static_cast<int>(start)));
}

}  // namespace gqa
