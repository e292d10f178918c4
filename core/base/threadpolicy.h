// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// How many CPU threads the compute on a model uses. More intra-op threads are not always faster:
// on the demo model (hidden 256) training ran at 1223 tokens/s on 1 thread and 795 on 2 of this
// machine's 2 cores (docs/benchmarks.md, "Data-parallel training"), because its matrices are too
// small for the work to outweigh the threads' synchronisation. bench/threads_bench.sh measures
// where that turns (docs/benchmarks.md, "CPU threads"); the rule below comes from it: one thread
// per kHiddenPerThread of hidden size, at least one, at most every core.
//
// GQA_THREADS=N overrides the rule for every model (the data-parallel launcher sets it for its
// workers). The same count goes to OpenBLAS, which keeps a pool of its own (a thread per core by
// default), unless OPENBLAS_NUM_THREADS is set. Every stage that computes on a model (calibrate,
// perplexity, multiple choice, pretrain, conversion training) applies the policy on entry, so the
// CLI and the studio run alike.

#include <cstdint>

namespace gqa {

/// Hidden units per intra-op thread: below 2 x this a second thread made training slower
/// (bench/threads_bench.sh on 2 cores, docs/benchmarks.md "CPU threads").
inline constexpr std::int64_t kHiddenPerThread = 512;

/// The rule alone: clamp(hiddenSize / kHiddenPerThread, 1, cores).
int threadsForHiddenSize(std::int64_t hiddenSize, int cores);

/// $GQA_THREADS when set (>= 1), else the rule for this machine's cores.
int threadsForModel(std::int64_t hiddenSize);

/// Sets torch's intra-op threads (and OpenBLAS's, see above) to threadsForModel(hiddenSize).
/// Returns the count now in use.
int useThreadsForModel(std::int64_t hiddenSize);

}  // namespace gqa
