// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The CLI's ProgressSink: a redrawn bar with rate and ETA on a terminal, plain timestamped lines
// (at most every few seconds) when stderr is not a TTY, nothing with --quiet. Ctrl-C sets a flag
// that makes the sink answer "stop", so core operations cancel at their next safe point.

#include <atomic>
#include <chrono>
#include <string>

#include "base/progress.h"

namespace gqa::cli {

/// Installs the SIGINT/SIGTERM handler; the first signal requests a clean stop, a second one
/// exits immediately.
void installInterruptHandler();
bool interruptRequested();

class TerminalProgress final : public ProgressSink {
public:
    explicit TerminalProgress(bool quiet = false);
    ~TerminalProgress() override;
    bool report(const ProgressUpdate& update) override;
    /// Ends the current bar line (if any).
    void finish();

private:
    using Clock = std::chrono::steady_clock;
    bool m_quiet;
    bool m_tty;
    bool m_lineOpen = false;
    std::string m_stage;
    Clock::time_point m_stageStart;
    Clock::time_point m_lastDraw;
};

}  // namespace gqa::cli
