// SPDX-License-Identifier: GPL-3.0-or-later
// The header-only model summary used by the studio and `inspect`.
#include <filesystem>

#include "base/error.h"
#include "io/modelsummary.h"
#include "testsupport.h"

namespace gqa::test {
namespace {

TEST(ModelSummary, ListsTensorsAndCountsParameters) {
    const ModelConfig config = tinyConfig(2, true);
    const ModelSummary s = summarizeModelFolder(writeRandomModel(config, 1, DType::BF16));
    EXPECT_EQ(s.tensors.size(), expectedTensors(config).size());
    EXPECT_EQ(s.storedParameterCount, config.parameterCount());
    EXPECT_EQ(s.storedBytes, std::uint64_t(config.parameterCount()) * 2);
    EXPECT_TRUE(s.problems.empty());
    EXPECT_FALSE(s.sharded);
    EXPECT_EQ(s.config.dtype, DType::BF16);
}

TEST(ModelSummary, ReportsMismatchesInsteadOfThrowing) {
    Checkpoint ck = randomCheckpoint(tinyConfig(), 2);
    ck.erase("model.norm.weight");
    ck.set("model.layers.0.mlp.up_proj.weight", torch::zeros({5, 5}));
    const std::string folder = scratchFolder("summary");
    ck.save(folder, 8 * 1024);
    const ModelSummary s = summarizeModelFolder(folder);
    EXPECT_TRUE(s.sharded);
    ASSERT_EQ(s.problems.size(), 2u);
    EXPECT_NE(s.problems[0].find("up_proj"), std::string::npos);
    EXPECT_NE(s.problems[1].find("model.norm.weight"), std::string::npos);
}

TEST(ModelSummary, NotAFolderIsAnInputError) {
    EXPECT_THROW(summarizeModelFolder("/nonexistent-model"), InputError);
}

}  // namespace
}  // namespace gqa::test
