// SPDX-License-Identifier: GPL-3.0-or-later
#include "widgetmap.h"

#include <QAbstractButton>
#include <QAbstractSlider>
#include <QApplication>
#include <QComboBox>
#include <QDialogButtonBox>
#include <QJsonArray>
#include <QJsonDocument>
#include <QJsonObject>
#include <QLabel>
#include <QLineEdit>
#include <QRegularExpression>
#include <QSaveFile>
#include <QSpinBox>
#include <QTabBar>
#include <QTimer>
#include <QWidget>

namespace gqa {
namespace {
QString withoutMnemonic(QString text) {
    text.remove(QRegularExpression(QStringLiteral("&(?!&)")));
    return text;
}

QJsonObject entry(const QRect& global, bool enabled, const QString& text) {
    return {{QStringLiteral("x"), global.x()},     {QStringLiteral("y"), global.y()},
            {QStringLiteral("w"), global.width()}, {QStringLiteral("h"), global.height()},
            {QStringLiteral("enabled"), enabled},  {QStringLiteral("text"), text}};
}

QString textOf(const QWidget* w) {
    if (const auto* b = qobject_cast<const QAbstractButton*>(w)) return withoutMnemonic(b->text());
    if (const auto* c = qobject_cast<const QComboBox*>(w)) return c->currentText();
    if (const auto* e = qobject_cast<const QLineEdit*>(w)) return e->text();
    if (const auto* l = qobject_cast<const QLabel*>(w)) return l->text();
    if (const auto* s = qobject_cast<const QAbstractSpinBox*>(w)) return s->text();
    if (const auto* s = qobject_cast<const QAbstractSlider*>(w)) return QString::number(s->value());
    return {};
}

QRect globalRect(const QWidget* w, const QRect& local) {
    return QRect(w->mapToGlobal(local.topLeft()), local.size());
}
}  // namespace

WidgetMapWriter::WidgetMapWriter(const QString& path, QObject* parent)
    : QObject(parent), m_path(path) {
    m_timer = new QTimer(this);
    connect(m_timer, &QTimer::timeout, this, &WidgetMapWriter::write);
    m_timer->start(kIntervalMs);
}

QByteArray WidgetMapWriter::currentMap() {
    QJsonObject map;
    for (QWidget* window : QApplication::topLevelWidgets()) {
        if (!window->isVisible()) continue;
        for (QWidget* w : window->findChildren<QWidget*>()) {
            if (!w->isVisible()) continue;
            if (auto* tabs = qobject_cast<QTabBar*>(w)) {
                for (int i = 0; i < tabs->count(); ++i)
                    map[QStringLiteral("tab:") + withoutMnemonic(tabs->tabText(i))] =
                        entry(globalRect(tabs, tabs->tabRect(i)), tabs->isTabEnabled(i),
                              QString::number(tabs->currentIndex() == i));
            }
            const auto* button = qobject_cast<QAbstractButton*>(w);
            if (button && qobject_cast<QDialogButtonBox*>(w->parentWidget()))
                map[QStringLiteral("button:") + withoutMnemonic(button->text())] =
                    entry(globalRect(w, w->rect()), w->isEnabled(), textOf(w));
            if (w->objectName().isEmpty() || w->objectName().startsWith(QLatin1String("qt_")))
                continue;
            // The part a pointer can reach: a control scrolled out of its scroll area has none.
            const QRect visible = w->visibleRegion().boundingRect();
            if (visible.isEmpty()) continue;
            map[w->objectName()] = entry(globalRect(w, visible), w->isEnabled(), textOf(w));
        }
    }
    return QJsonDocument(map).toJson(QJsonDocument::Indented);
}

void WidgetMapWriter::write() {
    QSaveFile file(m_path);
    if (!file.open(QIODevice::WriteOnly)) return;
    file.write(currentMap());
    file.commit();
}

}  // namespace gqa
