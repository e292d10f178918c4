// SPDX-License-Identifier: GPL-3.0-or-later
#include "workerlauncher.h"

#include <fcntl.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <optional>
#include <thread>

#include "clioptions.h"
#include "commands.h"
#include "base/error.h"

extern char** environ;

namespace gqa::cli {
namespace {

/// After a worker fails, how long past the collective timeout the others get to report and exit.
constexpr double kGraceSeconds = 10.0;
/// How often the launcher looks at its workers and at forwarded signals.
constexpr std::chrono::milliseconds kPollInterval{50};
/// What a forked worker returns when its executable cannot be started (the shell's convention).
constexpr int kExitCannotExec = 127;

/// The options a launcher replaces in its workers' command lines (all take a value).
const std::vector<std::string> kReplacedOptions = {"nproc", "rank", "world-size", "master-addr",
                                                   "master-port"};

std::atomic<int> g_signalCount[2] = {{0}, {0}};  // SIGINT, SIGTERM

extern "C" void onLauncherSignal(int signal) { g_signalCount[signal == SIGINT ? 0 : 1]++; }

bool namesOption(const std::string& argument, const std::string& name) {
    return argument == "--" + name || argument.rfind("--" + name + "=", 0) == 0;
}

bool hasOption(const std::vector<std::string>& argv, const std::string& name) {
    return std::any_of(argv.begin(), argv.end(),
                       [&](const std::string& a) { return namesOption(a, name); });
}

/// argv without the options in kReplacedOptions (`--name value` and `--name=value`).
std::vector<std::string> withoutReplacedOptions(const std::vector<std::string>& argv) {
    std::vector<std::string> kept;
    for (std::size_t i = 0; i < argv.size(); ++i) {
        const auto replaced =
            std::find_if(kReplacedOptions.begin(), kReplacedOptions.end(),
                         [&](const std::string& name) { return namesOption(argv[i], name); });
        if (replaced == kReplacedOptions.end()) {
            kept.push_back(argv[i]);
        } else if (argv[i].find('=') == std::string::npos) {
            ++i;  // skip the value
        }
    }
    return kept;
}

std::string executablePath() {
    std::error_code error;
    const auto path = std::filesystem::read_symlink("/proc/self/exe", error);
    return error ? std::string("/proc/self/exe") : path.string();
}

/// The environment of the workers: this one, with the cores shared out (GQA_THREADS for torch's
/// intra-op threads, OPENBLAS_NUM_THREADS for OpenBLAS's own pool) where not set already.
std::vector<std::string> workerEnvironment(int nproc) {
    std::vector<std::string> env;
    for (char** e = environ; *e; ++e) env.emplace_back(*e);
    const int cores = static_cast<int>(std::thread::hardware_concurrency());
    std::string threads = std::to_string(std::max(1, cores / nproc));
    if (const char* given = std::getenv("GQA_THREADS"))
        threads = given;
    else
        env.push_back("GQA_THREADS=" + threads);
    if (!std::getenv("OPENBLAS_NUM_THREADS")) env.push_back("OPENBLAS_NUM_THREADS=" + threads);
    return env;
}

std::vector<char*> pointers(std::vector<std::string>& strings) {
    std::vector<char*> result;
    for (auto& s : strings) result.push_back(s.data());
    result.push_back(nullptr);
    return result;
}

/// Forks one worker. Only async-signal-safe calls happen between fork and exec.
pid_t startWorker(const std::string& path, std::vector<std::string> args,
                  std::vector<std::string>& env, bool keepStdout) {
    std::vector<char*> argv = pointers(args);
    std::vector<char*> envp = pointers(env);
    const pid_t parent = ::getpid();
    const pid_t pid = ::fork();
    if (pid < 0) throw Error(std::string("cannot start a worker: ") + std::strerror(errno));
    if (pid == 0) {
        ::setpgid(0, 0);  // out of the terminal's group: Ctrl-C reaches the launcher only
        ::prctl(PR_SET_PDEATHSIG, SIGTERM);
        if (::getppid() != parent) ::_exit(kExitFailure);
        if (!keepStdout) {
            const int null = ::open("/dev/null", O_WRONLY);
            if (null >= 0) ::dup2(null, STDOUT_FILENO);
        }
        ::execve(path.c_str(), argv.data(), envp.data());
        const char message[] = "gqa-cli: cannot run the worker executable\n";
        [[maybe_unused]] const auto written = ::write(STDERR_FILENO, message, sizeof message - 1);
        ::_exit(kExitCannotExec);
    }
    return pid;
}

/// "exited with code N" or "was killed by signal N (name)".
std::string exitText(int status) {
    if (WIFEXITED(status)) return "exited with code " + std::to_string(WEXITSTATUS(status));
    return "was killed by signal " + std::to_string(WTERMSIG(status)) + " (" +
           strsignal(WTERMSIG(status)) + ")";
}

struct Worker {
    int rank = 0;
    pid_t pid = -1;
    bool running = true;
    bool killed = false;
};

/// Installs the launcher's SIGINT/SIGTERM handler and puts the previous ones back when done.
class SignalScope {
public:
    SignalScope() {
        struct sigaction action {};
        action.sa_handler = onLauncherSignal;
        sigemptyset(&action.sa_mask);
        g_signalCount[0] = 0;
        g_signalCount[1] = 0;
        ::sigaction(SIGINT, &action, &m_previousInt);
        ::sigaction(SIGTERM, &action, &m_previousTerm);
    }
    ~SignalScope() {
        ::sigaction(SIGINT, &m_previousInt, nullptr);
        ::sigaction(SIGTERM, &m_previousTerm, nullptr);
    }
    SignalScope(const SignalScope&) = delete;
    SignalScope& operator=(const SignalScope&) = delete;

private:
    struct sigaction m_previousInt {};
    struct sigaction m_previousTerm {};
};

/// Forwards signals to the workers and waits for them; after the first failure, the others get
/// `patience` seconds to stop on their own before they are killed. The first failure's code.
int superviseWorkers(std::vector<Worker>& workers, double patience) {
    using Clock = std::chrono::steady_clock;
    int forwarded[2] = {0, 0};
    std::optional<int> firstFailure;
    Clock::time_point deadline;
    for (;;) {
        for (int k = 0; k < 2; ++k)
            for (; forwarded[k] < g_signalCount[k].load(); ++forwarded[k])
                for (const Worker& w : workers)
                    if (w.running) ::kill(w.pid, k == 0 ? SIGINT : SIGTERM);

        bool anyRunning = false;
        for (Worker& w : workers) {
            int status = 0;
            if (w.running && ::waitpid(w.pid, &status, WNOHANG) == w.pid) {
                w.running = false;
                const int code = WIFEXITED(status) ? WEXITSTATUS(status) : kExitFailure;
                const bool first = code != kExitOk && !firstFailure;
                if (first) {
                    firstFailure = code;
                    deadline = Clock::now() + std::chrono::milliseconds(
                                                  static_cast<std::int64_t>(patience * 1000));
                }
                // A cancelled rank has said so itself; any other failure is named here.
                if (code != kExitOk && (code != kExitCancelled || !WIFEXITED(status))) {
                    std::string line =
                        "gqa-cli: rank " + std::to_string(w.rank) + " " + exitText(status);
                    if (first)
                        line += "; the other ranks get up to " +
                                std::to_string(std::lround(patience)) + " s to stop";
                    std::fprintf(stderr, "%s\n", line.c_str());
                }
            }
            anyRunning = anyRunning || w.running;
        }
        if (!anyRunning) return firstFailure.value_or(kExitOk);
        if (firstFailure && Clock::now() > deadline) {
            for (Worker& w : workers) {
                if (!w.running || w.killed) continue;
                w.killed = true;
                std::fprintf(stderr, "gqa-cli: killing rank %d: it did not stop in time\n", w.rank);
                ::kill(w.pid, SIGKILL);
            }
        }
        std::this_thread::sleep_for(kPollInterval);
    }
}

}  // namespace

std::vector<OptionSpec> rendezvousOptions() {
    const std::string timeout = numberText(RendezvousSettings::kDefaultTimeoutSeconds);
    return {
        {"nproc", "N", "data-parallel workers to start on this machine (c10d Gloo)", "1"},
        {"rank", "R", "this process's rank in a run over several machines", "0"},
        {"world-size", "N", "processes in a run over several machines", "1"},
        {"master-addr", "HOST", "address of rank 0 (hosts the rendezvous)", "127.0.0.1"},
        {"master-port", "PORT", "rendezvous port on rank 0 (--nproc: a free port)",
         std::to_string(RendezvousSettings::kDefaultPort)},
        {"collective-timeout", "SECONDS", "a rank that does not answer within this fails the run",
         timeout},
    };
}

int nprocFromArguments(const Arguments& a) {
    const std::int64_t nproc = a.integer("nproc");
    if (nproc < 1) throw InputError("--nproc must be at least 1, got " + std::to_string(nproc));
    return static_cast<int>(nproc);
}

RendezvousSettings rendezvousFromArguments(const Arguments& a) {
    RendezvousSettings s;
    const std::int64_t world = a.integer("world-size"), rank = a.integer("rank");
    const std::int64_t port = a.integer("master-port");
    s.masterAddress = a.text("master-addr");
    s.timeoutSeconds = a.number("collective-timeout");
    if (nprocFromArguments(a) > 1 && (a.has("world-size") || a.has("rank")))
        throw InputError(
            "--nproc starts a whole run on this machine; for a run over several machines start "
            "one process per rank with --rank and --world-size instead");
    if (world < 1) throw InputError("--world-size must be at least 1");
    if (rank < 0 || rank >= world)
        throw InputError("--rank " + std::to_string(rank) + " is not in a run of " +
                         std::to_string(world) + " (0 <= rank < world size)");
    if (port < 1 || port > 65535)
        throw InputError("--master-port " + std::to_string(port) + " is not in 1..65535");
    if (!(s.timeoutSeconds > 0)) throw InputError("--collective-timeout must be positive");
    if (s.masterAddress.empty()) throw InputError("--master-addr is empty");
    s.worldSize = static_cast<int>(world);
    s.rank = static_cast<int>(rank);
    s.masterPort = static_cast<int>(port);
    return s;
}

int launchLocalWorkers(int nproc, const std::vector<std::string>& argv,
                       const RendezvousSettings& settings) {
    if (nproc < 1) throw InputError("--nproc must be at least 1");
    const int port = hasOption(argv, "master-port") ? settings.masterPort : freeLocalPort();
    const bool quiet = hasOption(argv, "quiet");
    const std::string path = executablePath();
    const std::vector<std::string> common = withoutReplacedOptions(argv);
    std::vector<std::string> env = workerEnvironment(nproc);

    SignalScope signals;
    std::vector<Worker> workers;
    std::string started;
    for (int rank = 0; rank < nproc; ++rank) {
        std::vector<std::string> args = {path};
        args.insert(args.end(), common.begin(), common.end());
        const std::vector<std::string> place = {
            "--rank",        std::to_string(rank), "--world-size",  std::to_string(nproc),
            "--master-addr", "127.0.0.1",          "--master-port", std::to_string(port)};
        args.insert(args.end(), place.begin(), place.end());
        if (rank > 0 && !quiet) args.push_back("--quiet");
        try {
            workers.push_back({rank, startWorker(path, args, env, rank == 0)});
        } catch (const Error&) {
            for (const Worker& w : workers) ::kill(w.pid, SIGKILL);
            for (const Worker& w : workers) ::waitpid(w.pid, nullptr, 0);
            throw;
        }
        started += (rank ? ", rank " : "rank ") + std::to_string(rank) + " pid " +
                   std::to_string(workers.back().pid);
    }
    if (!quiet)
        std::fprintf(stderr, "gqa-cli: started %d workers (rendezvous 127.0.0.1:%d): %s\n", nproc,
                     port, started.c_str());

    return superviseWorkers(workers, settings.timeoutSeconds + kGraceSeconds);
}

}  // namespace gqa::cli
