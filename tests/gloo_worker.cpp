// SPDX-License-Identifier: GPL-3.0-or-later
// gqa_gloo_worker: one rank of the two-process Gloo tests (test_gloocommunicator.cpp), which
// spawns it so that each rank is a real process with its own sockets and its own death.
//
//   gqa_gloo_worker MODE RANK WORLD_SIZE PORT TIMEOUT_SECONDS
//   sum    all-reduce and broadcast glooCaseTensors, check against the expected values
//   die    rank > 0 exits right after a barrier; rank 0 then all-reduces and must get an Error
//   stall  rank > 0 prints "stalled" and sleeps after a barrier (the test kills it, or lets
//          rank 0 time out); rank 0 all-reduces and must get an Error
//
// Exit codes: 0 the expected behaviour, 10 no Error where one was due, 11 wrong values, 12 an
// Error without this rank's name, 13 an unexpected failure.
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <thread>

#include "distributed/communicator.h"
#include "base/error.h"
#include "gloocases.h"

namespace {
constexpr int kExitNoError = 10;
constexpr int kExitWrongValues = 11;
constexpr int kExitNoRank = 12;
constexpr int kExitUnexpected = 13;
/// What an exiting rank > 0 returns in mode "die" (checked by nobody; distinct from the above).
constexpr int kExitDied = 7;

int expectFailure(gqa::Communicator& communicator) {
    std::vector<torch::Tensor> tensors = gqa::test::glooCaseTensors(communicator.rank());
    const auto start = std::chrono::steady_clock::now();
    try {
        communicator.allReduceSum(tensors);
    } catch (const gqa::Error& e) {
        const double seconds =
            std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
        std::fprintf(stderr, "gloo worker: Error after %.2f s: %s\n", seconds, e.what());
        const std::string expected = "rank " + std::to_string(communicator.rank()) + " of ";
        return std::string(e.what()).find(expected) == std::string::npos ? kExitNoRank : 0;
    }
    std::fprintf(stderr, "gloo worker: the all-reduce succeeded without its peer\n");
    return kExitNoError;
}

int run(const std::string& mode, const gqa::RendezvousSettings& settings) {
    auto communicator = gqa::connectGloo(settings);
    if (mode == "sum") {
        std::vector<torch::Tensor> tensors = gqa::test::glooCaseTensors(settings.rank);
        communicator->allReduceSum(tensors);
        if (!gqa::test::glooCaseClose(tensors, gqa::test::glooCaseSum(settings.worldSize)))
            return kExitWrongValues;
        const int root = settings.worldSize - 1;
        tensors = gqa::test::glooCaseTensors(settings.rank);
        communicator->broadcast(tensors, root);
        if (!gqa::test::glooCaseClose(tensors, gqa::test::glooCaseTensors(root)))
            return kExitWrongValues;
        communicator->barrier();
        return 0;
    }
    communicator->barrier();
    if (settings.rank > 0) {
        if (mode == "die") ::_exit(kExitDied);
        std::printf("stalled\n");  // the test waits for this line before it kills this rank
        std::fflush(stdout);
        for (;;) std::this_thread::sleep_for(std::chrono::seconds(1));
    }
    return expectFailure(*communicator);
}
}  // namespace

int main(int argc, char** argv) {
    if (argc != 6) {
        std::fprintf(stderr, "usage: gqa_gloo_worker sum|die|stall RANK WORLD PORT TIMEOUT\n");
        return kExitUnexpected;
    }
    torch::set_num_threads(1);
    gqa::RendezvousSettings settings;
    settings.rank = std::atoi(argv[2]);
    settings.worldSize = std::atoi(argv[3]);
    settings.masterPort = std::atoi(argv[4]);
    settings.timeoutSeconds = std::atof(argv[5]);
    try {
        return run(argv[1], settings);
    } catch (const std::exception& e) {
        std::fprintf(stderr, "gloo worker rank %d: unexpected: %s\n", settings.rank, e.what());
        return kExitUnexpected;
    }
}
