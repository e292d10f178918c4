// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The hand-over point between a training worker and the GUI: the worker appends one sample per
// update (any thread), the GUI takes everything accumulated on a timer (~40 ms) and draws it in
// one go. So plots never receive one signal per step, and a fast worker cannot flood the event
// loop (conventions: throttled live plots).

#include <string>
#include <utility>
#include <vector>

#include <QMutex>

namespace gqa {

struct TrainingSample {
    double step = 0.0;
    std::vector<std::pair<std::string, double>> metrics;
    std::vector<double> gates;  ///< layer-major, may be empty
};

class MetricBuffer {
public:
    void append(TrainingSample sample);
    /// Everything appended since the last call, in order.
    std::vector<TrainingSample> take();
    /// Drops pending samples (a new run starts).
    void clear();

private:
    QMutex m_mutex;
    std::vector<TrainingSample> m_pending;
};

}  // namespace gqa
