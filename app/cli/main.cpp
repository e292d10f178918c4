// SPDX-License-Identifier: GPL-3.0-or-later
// gqa-cli: the headless front end of GQA Studio. Dispatches to subcommands and maps failures to
// exit codes: 0 success, 1 failure, 2 bad input (file, option), 3 cancelled (Ctrl-C).
#include <cstdio>
#include <exception>
#include <iostream>

#include "commands.h"
#include "base/error.h"
#include "base/runtime.h"
#include "base/versions.h"
#include "terminalprogress.h"

namespace {
void printUsage() {
    std::cout << "usage: gqa-cli <command> [options]   (gqa-cli <command> --help for details)\n\n"
                 "GQA Studio " GQA_VERSION
                 " command line: convert MHA models (Llama, Qwen2, Gemma, Phi, StableLM, OLMo, "
                 "Mistral) to GQA.\n\n"
                 "commands:\n";
    for (const auto& c : gqa::cli::commands())
        std::printf("  %-18s %s\n", c.name.c_str(), c.summary.c_str());
    std::cout
        << "\nexit codes: 0 success, 1 failure, 2 bad input, 3 cancelled\n"
           "environment: GQA_THREADS sets the number of CPU threads (default: by model size, 1 "
           "per 512 hidden units up to every core)\n";
}
}  // namespace

int main(int argc, char** argv) {
    using namespace gqa::cli;
    std::vector<std::string> args(argv + 1, argv + argc);
    if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
        printUsage();
        return args.empty() ? kExitBadInput : kExitOk;
    }
    if (args[0] == "--version") {
        std::printf("gqa-cli %s (%s)\n%s\n", GQA_VERSION, gqa::torchVersionText().c_str(),
                    gqa::computeFeatures().c_str());
        return kExitOk;
    }
    for (const auto& command : commands()) {
        if (command.name != args[0]) continue;
        installInterruptHandler();
        gqa::configureTorchThreads();
        try {
            return command.run(std::vector<std::string>(args.begin() + 1, args.end()));
        } catch (const gqa::Cancelled& e) {
            std::fprintf(stderr, "\ncancelled: %s\n", e.what());
            return kExitCancelled;
        } catch (const gqa::InputError& e) {
            std::fprintf(stderr, "error: %s\n", e.what());
            return kExitBadInput;
        } catch (const std::exception& e) {
            std::fprintf(stderr, "failed: %s\n", e.what());
            return kExitFailure;
        }
    }
    std::fprintf(stderr, "error: unknown command '%s' (gqa-cli --help lists them)\n",
                 args[0].c_str());
    return kExitBadInput;
}
