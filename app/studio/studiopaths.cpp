// SPDX-License-Identifier: GPL-3.0-or-later
#include "studiopaths.h"

#include <QCoreApplication>
#include <QDir>
#include <QStandardPaths>

namespace gqa {

QString studioDataFolder() {
    QString name = QCoreApplication::applicationName();
    if (name.isEmpty()) name = QStringLiteral("GQA Studio");
    return QDir(QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation))
        .filePath(name);
}

QString studioRunsFolder() { return QDir(studioDataFolder()).filePath(QStringLiteral("runs")); }

}  // namespace gqa
