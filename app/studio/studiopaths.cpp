// SPDX-License-Identifier: GPL-3.0-or-later
#include "studiopaths.h"

#include <QCoreApplication>
#include <QDir>
#include <QFileInfo>
#include <QStandardPaths>

#include "base/installlayout.h"

namespace gqa {

QString studioDataFolder() {
    QString name = QCoreApplication::applicationName();
    if (name.isEmpty()) name = QStringLiteral("GQA Studio");
    return QDir(QStandardPaths::writableLocation(QStandardPaths::GenericDataLocation))
        .filePath(name);
}

QString studioRunsFolder() { return QDir(studioDataFolder()).filePath(QStringLiteral("runs")); }

QString demoTextFolder() {
    const QString installed = QString::fromStdString(demoTextDir().string());
    for (const QString& candidate :
         {installed, QDir::current().absoluteFilePath(QStringLiteral("data/corpus/text"))})
        if (!candidate.isEmpty() && QFileInfo(candidate).isDir())
            return QFileInfo(candidate).canonicalFilePath();
    return {};
}

}  // namespace gqa
