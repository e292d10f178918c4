// SPDX-License-Identifier: GPL-3.0-or-later
#include "base/progress.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace gqa {

ProgressPacer::ProgressPacer(std::chrono::milliseconds interval)
    : m_interval(interval), m_start(Clock::now()), m_lastShown(m_start), m_phaseStart(m_start) {}

bool ProgressPacer::due(const ProgressUpdate& update) {
    const Clock::time_point now = Clock::now();
    const double fraction = std::clamp(update.fraction, 0.0, 1.0);
    if (fraction < m_fraction || !m_shownAny) {
        m_phaseStart = now;
        m_phaseFraction = fraction;
    }
    m_fraction = fraction;
    const bool show = !m_shownAny || update.stage != m_stage || fraction >= 1.0 ||
                      now - m_lastShown >= m_interval;
    if (show) {
        m_shownAny = true;
        m_stage = update.stage;
        m_lastShown = now;
    }
    return show;
}

double ProgressPacer::elapsedSeconds() const {
    return std::chrono::duration<double>(Clock::now() - m_start).count();
}

double ProgressPacer::remainingSeconds() const {
    const double done = m_fraction - m_phaseFraction;
    if (done <= 0.0) return std::nan("");
    const double spent = std::chrono::duration<double>(Clock::now() - m_phaseStart).count();
    return spent * (1.0 - m_fraction) / done;
}

bool ScaledProgress::report(const ProgressUpdate& update) {
    ProgressUpdate scaled = update;
    scaled.fraction = m_from + (m_to - m_from) * std::clamp(update.fraction, 0.0, 1.0);
    return m_parent.report(scaled);
}

void reportOrCancel(ProgressSink& sink, const ProgressUpdate& update) {
    if (!sink.report(update)) throw Cancelled(update.stage.empty() ? "operation" : update.stage);
}

}  // namespace gqa
