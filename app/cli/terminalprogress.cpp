// SPDX-License-Identifier: GPL-3.0-or-later
#include "terminalprogress.h"

#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <unistd.h>

namespace gqa::cli {
namespace {
std::atomic<int> g_interrupts{0};

// Redraw a terminal bar at most this often; log a plain line at most this often.
constexpr std::chrono::milliseconds kTtyRedraw{100};
constexpr std::chrono::seconds kLogInterval{5};

extern "C" void onInterrupt(int) {
    if (g_interrupts.fetch_add(1) >= 1) std::_Exit(130);
}

std::string clockText(double seconds) {
    const long s = static_cast<long>(seconds + 0.5);
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%ld:%02ld:%02ld", s / 3600, (s / 60) % 60, s % 60);
    return buffer;
}
}  // namespace

void installInterruptHandler() {
    std::signal(SIGINT, onInterrupt);
    std::signal(SIGTERM, onInterrupt);
}

bool interruptRequested() { return g_interrupts.load() > 0; }

TerminalProgress::TerminalProgress(bool quiet) : m_quiet(quiet), m_tty(::isatty(STDERR_FILENO)) {}

TerminalProgress::~TerminalProgress() { finish(); }

void TerminalProgress::finish() {
    if (m_lineOpen) std::fputc('\n', stderr);
    m_lineOpen = false;
}

bool TerminalProgress::report(const ProgressUpdate& u) {
    const auto now = Clock::now();
    const bool newStage = u.stage != m_stage;
    if (newStage) {
        finish();
        m_stage = u.stage;
        m_stageStart = now;
        m_lastDraw = Clock::time_point{};
    }
    if (m_quiet) return !interruptRequested();
    const bool done = u.fraction >= 1.0;
    if (!newStage && !done &&
        now - m_lastDraw < (m_tty ? std::chrono::milliseconds(kTtyRedraw)
                                  : std::chrono::milliseconds(kLogInterval)))
        return !interruptRequested();
    m_lastDraw = now;

    const double elapsed = std::chrono::duration<double>(now - m_stageStart).count();
    const double eta = u.fraction > 0.0 ? elapsed * (1.0 - u.fraction) / u.fraction : 0.0;
    std::string metrics;
    for (const auto& [name, value] : u.metrics) {
        char buffer[64];
        std::snprintf(buffer, sizeof buffer, " %s=%.4g", name.c_str(), value);
        metrics += buffer;
    }
    if (m_tty) {
        constexpr int kWidth = 30;
        const int filled = static_cast<int>(u.fraction * kWidth);
        std::fprintf(stderr, "\r\033[K%-18s [%s%s] %5.1f%% %s eta %s%s", u.stage.c_str(),
                     std::string(filled, '#').c_str(), std::string(kWidth - filled, '.').c_str(),
                     100.0 * u.fraction, clockText(elapsed).c_str(), clockText(eta).c_str(),
                     metrics.c_str());
        m_lineOpen = true;
        if (done) finish();
    } else {
        std::fprintf(stderr, "[%s] %s %.1f%% eta %s%s\n", clockText(elapsed).c_str(),
                     u.stage.c_str(), 100.0 * u.fraction, clockText(eta).c_str(), metrics.c_str());
    }
    std::fflush(stderr);
    return !interruptRequested();
}

}  // namespace gqa::cli
