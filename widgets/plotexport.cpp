// SPDX-License-Identifier: GPL-3.0-or-later
#include "plotexport.h"

#include <QFile>
#include <QFileDialog>
#include <QMenu>
#include <qcustomplot.h>

namespace gqa {

bool savePlotImage(QCustomPlot* plot, const QString& path) {
    return path.endsWith(QLatin1String(".pdf"), Qt::CaseInsensitive) ? plot->savePdf(path)
                                                                     : plot->savePng(path);
}

bool saveText(const QString& path, const QString& text) {
    QFile file(path);
    if (!file.open(QIODevice::WriteOnly | QIODevice::Truncate)) return false;
    return file.write(text.toUtf8()) >= 0;
}

void addExportMenu(QCustomPlot* plot, std::function<QString()> csv) {
    plot->setContextMenuPolicy(Qt::CustomContextMenu);
    QObject::connect(plot, &QWidget::customContextMenuRequested, plot, [plot, csv](QPoint at) {
        QMenu menu(plot);
        menu.addAction(QObject::tr("Save image (PNG or PDF)…"), plot, [plot] {
            const QString path = QFileDialog::getSaveFileName(
                plot, QObject::tr("Save image"), QString(),
                QObject::tr("PNG image (*.png);;PDF document (*.pdf)"));
            if (!path.isEmpty()) savePlotImage(plot, path);
        });
        menu.addAction(QObject::tr("Save data (CSV)…"), plot, [plot, csv] {
            const QString path = QFileDialog::getSaveFileName(
                plot, QObject::tr("Save data"), QString(), QObject::tr("CSV (*.csv)"));
            if (!path.isEmpty()) saveText(path, csv());
        });
        menu.exec(plot->mapToGlobal(at));
    });
}

}  // namespace gqa
