// SPDX-License-Identifier: GPL-3.0-or-later
// The CPU thread policy (base/threadpolicy.h): the size rule, the GQA_THREADS override, and that
// the stages apply it.
#include <cstdlib>
#include <optional>
#include <string>

#include <torch/torch.h>

#include "base/threadpolicy.h"
#include "eval/perplexity.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

/// Sets or clears an environment variable for one test and puts the old value back.
class ScopedEnv {
public:
    ScopedEnv(const char* name, const char* value) : m_name(name) {
        if (const char* old = std::getenv(name)) m_old = old;
        if (value)
            ::setenv(name, value, 1);
        else
            ::unsetenv(name);
    }
    ~ScopedEnv() {
        if (m_old)
            ::setenv(m_name, m_old->c_str(), 1);
        else
            ::unsetenv(m_name);
    }

private:
    const char* m_name;
    std::optional<std::string> m_old;
};

TEST(ThreadPolicy, SmallModelsUseOneThreadAndLargeOnesMoreUpToTheCores) {
    EXPECT_EQ(threadsForHiddenSize(64, 16), 1);
    EXPECT_EQ(threadsForHiddenSize(256, 2), 1);  // the demo: 1 thread measured faster than 2
    EXPECT_EQ(threadsForHiddenSize(2 * kHiddenPerThread - 1, 2), 1);
    EXPECT_EQ(threadsForHiddenSize(2 * kHiddenPerThread, 2), 2);
    EXPECT_EQ(threadsForHiddenSize(4096, 2), 2);
    EXPECT_EQ(threadsForHiddenSize(4096, 64), int(4096 / kHiddenPerThread));
    EXPECT_EQ(threadsForHiddenSize(0, 4), 1);
    EXPECT_EQ(threadsForHiddenSize(4096, 0), 1);
}

TEST(ThreadPolicy, GqaThreadsOverridesTheRuleAndNonsenseIsIgnored) {
    {
        ScopedEnv env("GQA_THREADS", "3");
        EXPECT_EQ(threadsForModel(64), 3);
        EXPECT_EQ(threadsForModel(1 << 20), 3);
    }
    {
        ScopedEnv env("GQA_THREADS", "zero");
        EXPECT_EQ(threadsForModel(64), 1);
    }
    ScopedEnv env("GQA_THREADS", nullptr);
    EXPECT_EQ(threadsForModel(64), 1);
}

TEST(ThreadPolicy, PerplexitySetsTheModelsThreadCount) {
    const int before = torch::get_num_threads();
    ScopedEnv env("GQA_THREADS", "2");
    torch::set_num_threads(1);
    const DecoderModel model(randomCheckpoint(tinyConfig(), 3), torch::kFloat64);
    NullProgress quiet;
    perplexity(model, randomIds(40, tinyConfig().vocabSize, 1), {16, 16}, quiet);
    EXPECT_EQ(torch::get_num_threads(), 2);
    torch::set_num_threads(before);
}

}  // namespace
}  // namespace gqa::test
