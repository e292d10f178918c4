// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Plot titles that fit their plot: QCustomPlot draws a title on one line per '\n' and clips what
// is wider than the plot ("fore alignment" instead of "before alignment" on a 1024 x 640 screen).
// wrapToWidth breaks each line of a title at spaces so that every line fits a width; the plots
// keep the full title and show the wrapped one, re-wrapped whenever they are resized.

#include <QFont>
#include <QString>

#include <qcustomplot.h>

namespace gqa {

/// `text` with each of its lines broken greedily at spaces so that no line is wider than `width`
/// pixels in `font` (a single word wider than that stays whole). Unchanged when it fits.
QString wrapToWidth(const QString& text, const QFont& font, int width);

/// A plot title re-wrapped before every layout to the width of its cell in the plot's layout.
class WrappingTitle : public QCPTextElement {
public:
    WrappingTitle(QCustomPlot* plot, const QString& text, const QFont& font);
    void setFullText(const QString& text);
    QString fullText() const { return m_fullText; }
    void update(UpdatePhase phase) override;

private:
    QString m_fullText;
};

}  // namespace gqa
