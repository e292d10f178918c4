// SPDX-License-Identifier: GPL-3.0-or-later
// The c10d Gloo communicator: sums and broadcasts across ranks (threads of this process, each with
// its own process group, and real processes of gqa_gloo_worker), and the guarantee that a dead,
// killed or silent peer makes the others throw gqa::Error within the timeout instead of hanging.
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <chrono>
#include <filesystem>
#include <future>
#include <optional>
#include <thread>

#include <gtest/gtest.h>

#include "distributed/communicator.h"
#include "base/error.h"
#include "gloocases.h"
#include "testsupport.h"

extern char** environ;

namespace gqa {
namespace {

using Clock = std::chrono::steady_clock;

double secondsSince(Clock::time_point start) {
    return std::chrono::duration<double>(Clock::now() - start).count();
}

using test::localRendezvous;

TEST(GlooCommunicator, RejectsSettingsThatDescribeNoRun) {
    EXPECT_THROW(connectGloo(localRendezvous(freeLocalPort(), 2, 2, 5)), InputError);
    EXPECT_THROW(connectGloo(localRendezvous(0, 0, 1, 5)), InputError);
    EXPECT_THROW(connectGloo(localRendezvous(freeLocalPort(), 0, 1, 0)), InputError);
}

TEST(GlooCommunicator, GroupOfOneLeavesValues) {
    auto communicator = connectGloo(localRendezvous(freeLocalPort(), 0, 1, 5));
    std::vector<torch::Tensor> tensors = test::glooCaseTensors(0);
    communicator->allReduceSum(tensors);
    communicator->broadcast(tensors, 0);
    communicator->barrier();
    EXPECT_TRUE(test::glooCaseClose(tensors, test::glooCaseTensors(0)));
}

// Two ranks as threads of this process: the unit-level check of bucketing and copy-back.
TEST(GlooCommunicator, ThreadsSumAndBroadcastMixedTensors) {
    constexpr int kWorld = 2;
    const int port = freeLocalPort();
    std::vector<std::vector<torch::Tensor>> sums = {test::glooCaseTensors(0),
                                                    test::glooCaseTensors(1)};
    std::vector<std::vector<torch::Tensor>> copies = {test::glooCaseTensors(0),
                                                      test::glooCaseTensors(1)};
    std::vector<std::vector<torch::Tensor>> reduced = {test::glooCaseTensors(0),
                                                       test::glooCaseTensors(1)};
    const std::vector<torch::Tensor> expectedSum = test::glooCaseSum(kWorld);
    const std::vector<torch::Tensor> expectedCopy = test::glooCaseTensors(1);
    std::vector<std::future<void>> ranks;
    for (int rank = 0; rank < kWorld; ++rank)
        ranks.push_back(std::async(std::launch::async, [&, rank] {
            auto communicator = connectGloo(localRendezvous(port, rank, kWorld, 30));
            EXPECT_EQ(communicator->rank(), rank);
            EXPECT_EQ(communicator->worldSize(), kWorld);
            communicator->allReduceSum(sums[rank]);
            communicator->broadcast(copies[rank], 1);
            communicator->reduceSum(reduced[rank], 1);
            communicator->barrier();
        }));
    for (auto& r : ranks) r.get();
    EXPECT_TRUE(test::glooCaseClose(reduced[1], expectedSum));  // the root only
    for (int rank = 0; rank < kWorld; ++rank) {
        EXPECT_TRUE(test::glooCaseClose(sums[rank], expectedSum)) << "rank " << rank;
        EXPECT_TRUE(test::glooCaseClose(copies[rank], expectedCopy)) << "rank " << rank;
    }
    EXPECT_FALSE(sums[0][3].is_contiguous());  // written through the view, not replaced
}

// CUDA tensors go through host memory (Debian's Gloo has no CUDA) and stay on their device.
TEST(GlooCommunicator, ThreadsSumCudaTensors_CUDA) {
    if (!torch::cuda::is_available()) GTEST_SKIP() << "no CUDA device";
    constexpr int kWorld = 2;
    const int port = freeLocalPort();
    std::vector<std::vector<torch::Tensor>> sums(kWorld);
    for (int rank = 0; rank < kWorld; ++rank)
        for (const torch::Tensor& t : test::glooCaseTensors(rank)) sums[rank].push_back(t.cuda());
    const std::vector<torch::Tensor> expected = test::glooCaseSum(kWorld);
    std::vector<std::future<void>> ranks;
    for (int rank = 0; rank < kWorld; ++rank)
        ranks.push_back(std::async(std::launch::async, [&, rank] {
            connectGloo(localRendezvous(port, rank, kWorld, 30))->allReduceSum(sums[rank]);
        }));
    for (auto& r : ranks) r.get();
    for (int rank = 0; rank < kWorld; ++rank) {
        std::vector<torch::Tensor> host;
        for (const torch::Tensor& t : sums[rank]) {
            EXPECT_TRUE(t.is_cuda());
            host.push_back(t.cpu());
        }
        EXPECT_TRUE(test::glooCaseClose(host, expected)) << "rank " << rank;
    }
}

TEST(GlooCommunicator, MissingRankFailsRendezvousWithinTimeout) {
    constexpr double kTimeout = 2.0;
    const auto start = Clock::now();
    try {
        connectGloo(localRendezvous(freeLocalPort(), 0, 2, kTimeout));
        FAIL() << "joined a run of two without the second rank";
    } catch (const Error& e) {
        EXPECT_NE(std::string(e.what()).find("rank 0 of 2"), std::string::npos) << e.what();
    }
    EXPECT_LT(secondsSince(start), kTimeout + 3.0);
}

TEST(GlooCommunicator, SilentPeerMakesCollectiveTimeOut) {
    constexpr double kTimeout = 2.0;
    const int port = freeLocalPort();
    std::promise<void> rank0Done;
    auto silent = std::async(std::launch::async, [&] {
        auto communicator = connectGloo(localRendezvous(port, 1, 2, kTimeout));
        rank0Done.get_future().wait();  // joins, then never takes part in a collective
    });
    auto communicator = connectGloo(localRendezvous(port, 0, 2, kTimeout));
    std::vector<torch::Tensor> tensors = {torch::ones({4})};
    const auto start = Clock::now();
    EXPECT_THROW(communicator->allReduceSum(tensors), Error);
    const double seconds = secondsSince(start);
    rank0Done.set_value();
    silent.get();
    EXPECT_GT(seconds, kTimeout * 0.5);
    EXPECT_LT(seconds, kTimeout + 3.0);
}

// --- Two real processes -----------------------------------------------------------------------

/// Seconds a worker may take to start (LibTorch's start-up on a busy machine) and connect.
constexpr double kStartAllowance = 20.0;

std::string workerPath() {
    return (std::filesystem::read_symlink("/proc/self/exe").parent_path() / "gqa_gloo_worker")
        .string();
}

/// Starts gqa_gloo_worker; with `readyPipe`, its stdout goes to a pipe whose read end is returned.
pid_t spawnWorker(const std::string& mode, int rank, int port, double timeoutSeconds,
                  int* readyPipe = nullptr) {
    const std::string path = workerPath();
    std::vector<std::string> args = {path,
                                     mode,
                                     std::to_string(rank),
                                     "2",
                                     std::to_string(port),
                                     std::to_string(timeoutSeconds)};
    std::vector<char*> argv;
    for (auto& a : args) argv.push_back(a.data());
    argv.push_back(nullptr);
    posix_spawn_file_actions_t actions;
    posix_spawn_file_actions_init(&actions);
    int fds[2] = {-1, -1};
    if (readyPipe) {
        if (::pipe(fds) != 0) throw Error("pipe failed");
        posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
        posix_spawn_file_actions_addclose(&actions, fds[0]);
    }
    pid_t pid = 0;
    const int rc = posix_spawn(&pid, path.c_str(), &actions, nullptr, argv.data(), environ);
    posix_spawn_file_actions_destroy(&actions);
    if (readyPipe) {
        ::close(fds[1]);
        *readyPipe = fds[0];
    }
    if (rc != 0) throw Error("cannot start " + path);
    return pid;
}

/// The exit code of `pid` if it exits within `seconds`; otherwise kills it and returns nothing.
std::optional<int> waitExit(pid_t pid, double seconds) {
    const auto start = Clock::now();
    while (secondsSince(start) < seconds) {
        int status = 0;
        if (::waitpid(pid, &status, WNOHANG) == pid)
            return WIFEXITED(status) ? WEXITSTATUS(status) : 128 + WTERMSIG(status);
        std::this_thread::sleep_for(std::chrono::milliseconds(20));
    }
    ::kill(pid, SIGKILL);
    ::waitpid(pid, nullptr, 0);
    return std::nullopt;
}

/// Waits until the worker writes a line ("stalled") to its stdout pipe.
bool waitReady(int fd, double seconds) {
    pollfd p{fd, POLLIN, 0};
    char buffer[64];
    const bool ready = ::poll(&p, 1, static_cast<int>(seconds * 1000)) == 1 &&
                       ::read(fd, buffer, sizeof buffer) > 0;
    ::close(fd);
    return ready;
}

TEST(GlooCommunicatorProcesses, SumAndBroadcastAcrossTwoProcesses) {
    const int port = freeLocalPort();
    const pid_t rank0 = spawnWorker("sum", 0, port, 30);
    const pid_t rank1 = spawnWorker("sum", 1, port, 30);
    EXPECT_EQ(waitExit(rank0, 60), std::optional<int>(0));
    EXPECT_EQ(waitExit(rank1, 60), std::optional<int>(0));
}

TEST(GlooCommunicatorProcesses, ExitedPeerMakesSurvivorFail) {
    constexpr double kTimeout = 5.0;
    const int port = freeLocalPort();
    const auto start = Clock::now();
    const pid_t rank0 = spawnWorker("die", 0, port, kTimeout);
    const pid_t rank1 = spawnWorker("die", 1, port, kTimeout);
    EXPECT_TRUE(waitExit(rank1, kStartAllowance).has_value());
    EXPECT_EQ(waitExit(rank0, kStartAllowance + kTimeout), std::optional<int>(0));
    RecordProperty("seconds", std::to_string(secondsSince(start)));
}

TEST(GlooCommunicatorProcesses, KilledPeerMakesSurvivorFailBeforeTimeout) {
    // A long timeout: the survivor must notice the closed connection, not wait the timeout out.
    constexpr double kTimeout = 60.0;
    constexpr double kNoticeSeconds = 10.0;
    const int port = freeLocalPort();
    int ready = -1;
    const pid_t rank0 = spawnWorker("stall", 0, port, kTimeout);
    const pid_t rank1 = spawnWorker("stall", 1, port, kTimeout, &ready);
    ASSERT_TRUE(waitReady(ready, kStartAllowance));
    std::this_thread::sleep_for(std::chrono::milliseconds(500));  // rank 0 is in its all-reduce
    ::kill(rank1, SIGKILL);
    const auto killed = Clock::now();
    EXPECT_EQ(waitExit(rank0, kNoticeSeconds), std::optional<int>(0));
    EXPECT_LT(secondsSince(killed), kNoticeSeconds);
    waitExit(rank1, 5);
}

TEST(GlooCommunicatorProcesses, StalledPeerMakesSurvivorTimeOut) {
    constexpr double kTimeout = 5.0;
    const int port = freeLocalPort();
    int ready = -1;
    const pid_t rank0 = spawnWorker("stall", 0, port, kTimeout);
    const pid_t rank1 = spawnWorker("stall", 1, port, kTimeout, &ready);
    ASSERT_TRUE(waitReady(ready, kStartAllowance));
    EXPECT_EQ(waitExit(rank0, kTimeout + 10.0), std::optional<int>(0));
    ::kill(rank1, SIGKILL);
    waitExit(rank1, 5);
}

}  // namespace
}  // namespace gqa
