// SPDX-License-Identifier: GPL-3.0-or-later
#include "titlewrap.h"

#include <QFontMetrics>
#include <QStringList>

namespace gqa {
namespace {
// Room left beside a wrapped title (pixels), so that its longest line never touches the edge.
constexpr int kTitlePadding = 12;
}  // namespace

QString wrapToWidth(const QString& text, const QFont& font, int width) {
    const QFontMetrics metrics(font);
    QStringList out;
    for (const QString& line : text.split(QLatin1Char('\n'))) {
        if (metrics.horizontalAdvance(line) <= width) {
            out << line;
            continue;
        }
        QString current;
        for (const QString& word : line.split(QLatin1Char(' '), Qt::SkipEmptyParts)) {
            const QString candidate = current.isEmpty() ? word : current + QLatin1Char(' ') + word;
            if (!current.isEmpty() && metrics.horizontalAdvance(candidate) > width) {
                out << current;
                current = word;
            } else {
                current = candidate;
            }
        }
        out << current;
    }
    return out.join(QLatin1Char('\n'));
}

WrappingTitle::WrappingTitle(QCustomPlot* plot, const QString& text, const QFont& font)
    : QCPTextElement(plot, text, font), m_fullText(text) {}

void WrappingTitle::setFullText(const QString& text) {
    m_fullText = text;
    setText(text);
}

void WrappingTitle::update(UpdatePhase phase) {
    QCPTextElement::update(phase);
    // Once the layout has given the title its cell (narrower than the plot when a colour scale
    // shares the row), wrap to it; when that changes the text, lay out again so that the row's
    // height follows. A resize therefore settles within one more replot.
    if (phase != upLayout || !mParentPlot || mOuterRect.width() <= 0) return;
    const QString shown = wrapToWidth(m_fullText, font(), mOuterRect.width() - kTitlePadding);
    if (shown == text()) return;
    setText(shown);
    mParentPlot->replot(QCustomPlot::rpQueuedReplot);
}

}  // namespace gqa
