// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The process' memory use as the operating system sees it (Linux /proc/self/status), for the
// memory column of training progress and the benchmarks.

namespace gqa {

/// Peak resident set size (VmHWM) in MiB; 0 when unknown.
double peakResidentMemoryMb();
/// Current resident set size (VmRSS) in MiB; 0 when unknown.
double residentMemoryMb();

}  // namespace gqa
