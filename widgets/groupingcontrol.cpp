// SPDX-License-Identifier: GPL-3.0-or-later
#include "groupingcontrol.h"

#include <algorithm>
#include <functional>

#include <QHBoxLayout>
#include <QLabel>
#include <QSignalBlocker>
#include <QSlider>
#include <QVBoxLayout>

namespace gqa {

GroupingControl::GroupingControl(QWidget* parent) : QWidget(parent) {
    auto* layout = new QVBoxLayout(this);
    layout->setContentsMargins(0, 0, 0, 0);
    layout->setSpacing(2);
    m_caption = new QLabel(this);
    m_caption->setObjectName(QStringLiteral("groupingCaption"));
    layout->addWidget(m_caption);
    m_slider = new QSlider(Qt::Horizontal, this);
    m_slider->setObjectName(QStringLiteral("groupCountSlider"));
    m_slider->setTickPosition(QSlider::TicksBelow);
    m_slider->setTickInterval(1);
    m_slider->setPageStep(1);
    m_slider->setTracking(true);
    layout->addWidget(m_slider);
    m_ticks = new QHBoxLayout;
    m_ticks->setContentsMargins(0, 0, 0, 0);
    layout->addLayout(m_ticks);
    connect(m_slider, &QSlider::valueChanged, this, [this] {
        updateCaption();
        if (groupCount() > 0) Q_EMIT groupCountChanged(groupCount());
    });
    setCounts({}, 0);
}

void GroupingControl::setCounts(const QVector<int>& counts, int heads, int initial) {
    m_counts = counts;
    std::sort(m_counts.begin(), m_counts.end(), std::greater<int>());
    m_counts.erase(std::unique(m_counts.begin(), m_counts.end()), m_counts.end());
    m_heads = heads;
    while (QLayoutItem* item = m_ticks->takeAt(0)) {
        delete item->widget();
        delete item;
    }
    for (int i = 0; i < m_counts.size(); ++i) {
        if (i > 0) m_ticks->addStretch(1);
        auto* tick = new QLabel(QString::number(m_counts[i]), this);
        tick->setForegroundRole(QPalette::PlaceholderText);
        m_ticks->addWidget(tick);
    }
    int position = 0;
    if (m_counts.contains(initial)) {
        position = int(m_counts.indexOf(initial));
    } else {
        for (int i = 0; i < m_counts.size(); ++i)
            if (m_counts[i] < heads) {
                position = i;
                break;
            }
    }
    const QSignalBlocker block(m_slider);
    m_slider->setRange(0, std::max(0, int(m_counts.size()) - 1));
    m_slider->setValue(position);
    m_slider->setEnabled(m_counts.size() > 1);
    updateCaption();
}

int GroupingControl::groupCount() const { return m_counts.value(m_slider->value(), 0); }

void GroupingControl::setGroupCount(int groups) {
    const int position = int(m_counts.indexOf(groups));
    if (position >= 0) m_slider->setValue(position);
}

QString GroupingControl::caption() const { return m_caption->text(); }

void GroupingControl::updateCaption() {
    const int g = groupCount();
    if (g <= 0 || m_heads <= 0) {
        m_caption->setText(tr("KV heads: —"));
        return;
    }
    const int k = m_heads / g;
    const QString kind = g == m_heads ? tr("MHA") : g == 1 ? tr("MQA") : tr("GQA");
    m_caption->setText(
        tr("<b>G = %1</b> KV heads · %2 query heads each (%3)").arg(g).arg(k).arg(kind));
}

}  // namespace gqa
