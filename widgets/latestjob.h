// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Job ids for interactive recomputation: every request takes a new id and becomes the latest; a
// result is shown only when it belongs to the latest request, so a slow answer to an old request
// (the user dragged the slider on) never overwrites a newer one, whatever order workers finish in.
// (The pattern of KDAB Hotspot's JobTracker.)
//
// The counter is atomic so that a worker may poll isLatest(id) to give up early on a stale job;
// begin() and accept() are meant for the GUI thread.

#include <atomic>
#include <cstdint>

namespace gqa {

class LatestJob {
public:
    using Id = std::uint64_t;

    /// A new id, now the latest one. Ids start at 1 and only grow.
    Id begin() { return ++m_latest; }
    /// True while no newer job has begun (and invalidate() was not called since).
    bool isLatest(Id id) const { return id != 0 && id == m_latest.load(); }
    /// Decides whether a finished job's result is to be used: true for the latest job's first
    /// delivery, false for stale jobs and for a second delivery of the same id.
    bool accept(Id id);
    /// Makes every job begun so far stale (e.g. when the data they were computed on is replaced).
    void invalidate() { ++m_latest; }
    /// The latest id handed out (0 before the first begin()).
    Id latest() const { return m_latest.load(); }

private:
    std::atomic<Id> m_latest{0};
    Id m_accepted = 0;
};

}  // namespace gqa
