// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Progress reporting for long core operations.
//
// Every long operation takes a ProgressSink&. It reports a fraction in [0, 1], a short stage text
// and optional named metrics; the sink's answer says whether to go on. Returning false makes the
// operation stop at its next safe point and throw gqa::Cancelled (after saving what it can).
// The GUI implements the sink on a worker thread and forwards value copies; the CLI draws a bar.

#include <chrono>
#include <string>
#include <utility>
#include <vector>

namespace gqa {

struct ProgressUpdate {
    double fraction = 0.0;  ///< 0..1 of the current operation
    std::string stage;      ///< what is being done, e.g. "loading tensors"
    std::vector<std::pair<std::string, double>> metrics;  ///< e.g. {"loss", 2.3}
    /// Named arrays, e.g. {"gates", layer-major [layers * heads] values} of a training step.
    std::vector<std::pair<std::string, std::vector<double>>> arrays = {};
};

class ProgressSink {
public:
    virtual ~ProgressSink() = default;
    /// Returns true to continue, false to ask the operation to cancel.
    virtual bool report(const ProgressUpdate& update) = 0;
};

/// A sink that ignores reports and never cancels.
class NullProgress final : public ProgressSink {
public:
    bool report(const ProgressUpdate&) override { return true; }
};

/// Maps a sub-operation's 0..1 onto [from, to] of the whole operation (stage text, metrics and
/// the answer pass through): how a pipeline of stages reports one fraction.
class ScaledProgress final : public ProgressSink {
public:
    ScaledProgress(ProgressSink& parent, double from, double to)
        : m_parent(parent), m_from(from), m_to(to) {}
    bool report(const ProgressUpdate& update) override;

private:
    ProgressSink& m_parent;
    double m_from, m_to;
};

/// Which reports a slow consumer (a window, a terminal) should see, and how long is left: every
/// change of stage, the end (fraction 1), and otherwise at most one report per interval. The time
/// left is extrapolated from the current phase: a phase starts whenever the fraction goes back
/// (a new stage at a lower fraction, or a resumed run), so time spent loading or calibrating does
/// not distort the training's estimate. One implementation for the studio's tasks and the CLI.
class ProgressPacer {
public:
    using Clock = std::chrono::steady_clock;
    /// The studio's rate: a few redraws per second are enough to look live.
    static constexpr std::chrono::milliseconds kDefaultInterval{100};

    explicit ProgressPacer(std::chrono::milliseconds interval = kDefaultInterval);
    /// Records the report; true when it should be shown.
    bool due(const ProgressUpdate& update);
    double elapsedSeconds() const;
    /// Seconds left in the current phase; NaN until it has made progress.
    double remainingSeconds() const;

private:
    std::chrono::milliseconds m_interval;
    Clock::time_point m_start, m_lastShown, m_phaseStart;
    bool m_shownAny = false;
    std::string m_stage;
    double m_fraction = 0.0, m_phaseFraction = 0.0;
};

/// Reports and throws gqa::Cancelled if the sink asks to stop.
void reportOrCancel(ProgressSink& sink, const ProgressUpdate& update);

}  // namespace gqa
