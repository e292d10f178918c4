// SPDX-License-Identifier: GPL-3.0-or-later
#include "metricbuffer.h"

#include <QMutexLocker>

namespace gqa {

void MetricBuffer::append(TrainingSample sample) {
    QMutexLocker lock(&m_mutex);
    m_pending.push_back(std::move(sample));
}

std::vector<TrainingSample> MetricBuffer::take() {
    QMutexLocker lock(&m_mutex);
    std::vector<TrainingSample> out;
    out.swap(m_pending);
    return out;
}

void MetricBuffer::clear() {
    QMutexLocker lock(&m_mutex);
    m_pending.clear();
}

}  // namespace gqa
