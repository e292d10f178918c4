// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Data-parallel runs from the command line (method §10): the rendezvous options and a launcher
// that starts the workers of a run on this machine, as torchrun does for Python.
//
//   gqa-cli train ... --nproc 2                       one machine: this process starts 2 workers
//   gqa-cli train ... --rank R --world-size N \        several machines: one process per rank,
//       --master-addr HOST --master-port P             started by the user (or a scheduler)
//
// `--nproc N` makes the process a launcher: it runs N copies of its own executable with the same
// arguments, minus --nproc, plus `--rank r --world-size N --master-addr 127.0.0.1 --master-port P`
// (P: the given --master-port, else a free port). Each worker is then an ordinary rank.
//
// - Output: rank 0 keeps stdout and stderr; the others get --quiet and no stdout, but their errors
//   still reach stderr. Each worker gets GQA_THREADS = cores / N (unless GQA_THREADS is set) and
//   OPENBLAS_NUM_THREADS the same (unless set; OpenBLAS otherwise starts a thread per core in
//   every process), so the workers share the cores instead of oversubscribing them, as torchrun's
//   OMP_NUM_THREADS=1 does.
// - Ctrl-C / SIGTERM: the workers run in their own process group, so a terminal's Ctrl-C reaches
//   the launcher only, which forwards each signal once to every worker: a first one asks every
//   rank to stop cleanly (checkpoint, exit 3), a second one ends them at once. A worker whose
//   launcher dies gets SIGTERM.
// - Failure: when a worker exits non-zero (or is killed), the others get the collective timeout
//   (plus a grace period) to notice and exit on their own, then are killed. The launcher returns
//   the exit code of the first worker to fail (1 for one killed by a signal), or 0.

#include <string>
#include <vector>

#include "arguments.h"
#include "distributed/communicator.h"

namespace gqa::cli {

/// --nproc, --rank, --world-size, --master-addr, --master-port, --collective-timeout.
std::vector<OptionSpec> rendezvousOptions();

/// --nproc: the number of workers to launch on this machine (1: this process does the work).
int nprocFromArguments(const Arguments& arguments);

/// This process's place in a run from --rank, --world-size, --master-addr, --master-port and
/// --collective-timeout. InputError for values that describe no run (rank outside the world,
/// --nproc together with --world-size, a port outside 1..65535, a timeout <= 0).
RendezvousSettings rendezvousFromArguments(const Arguments& arguments);

/// Runs `nproc` workers of this executable and waits for them (see above). `argv` is the command
/// line after the program name, subcommand first: {"train", "model", "--nproc", "2", ...}.
/// Of `settings`, the timeout is used, and the port when argv names --master-port.
int launchLocalWorkers(int nproc, const std::vector<std::string>& argv,
                       const RendezvousSettings& settings);

}  // namespace gqa::cli
