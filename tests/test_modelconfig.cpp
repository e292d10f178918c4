// SPDX-License-Identifier: GPL-3.0-or-later
// config.json parsing: supported fields, defaults, and a clear refusal naming the field otherwise.
#include <gtest/gtest.h>

#include "base/error.h"
#include "io/modelconfig.h"

namespace gqa {
namespace {

const char* kLlama = R"({
  "architectures": ["LlamaForCausalLM"], "model_type": "llama",
  "vocab_size": 32000, "hidden_size": 4096, "intermediate_size": 11008,
  "num_hidden_layers": 32, "num_attention_heads": 32, "rms_norm_eps": 1e-5,
  "max_position_embeddings": 4096, "bos_token_id": 1, "eos_token_id": 2,
  "tie_word_embeddings": false, "torch_dtype": "float16", "custom_field": 42})";

std::string withField(const std::string& key, const std::string& value) {
    std::string text = kLlama;
    return text.substr(0, text.size() - 1) + ", \"" + key + "\": " + value + "}";
}

void expectRefused(const std::string& json, const std::string& field) {
    try {
        ModelConfig::fromJson(json, "config.json");
        FAIL() << "accepted a config that should be refused for " << field;
    } catch (const InputError& e) {
        EXPECT_NE(std::string(e.what()).find(field), std::string::npos) << e.what();
    }
}

TEST(ModelConfig, ReadsLlama2ShapeWithMhaDefault) {
    const ModelConfig c = ModelConfig::fromJson(kLlama, "config.json");
    EXPECT_EQ(c.numKvHeads, 32);  // absent means MHA
    EXPECT_EQ(c.headDim, 128);
    EXPECT_TRUE(c.isMha());
    EXPECT_EQ(c.dtype, DType::F16);
    EXPECT_DOUBLE_EQ(c.ropeTheta, 10000.0);
    EXPECT_EQ(c.parameterCount(), 6738415616);          // LLaMA-2-7B
    EXPECT_EQ(c.kvCacheBytesPerToken(32, 2), 524288u);  // 0.5 MiB per token in fp16
    EXPECT_EQ(c.validKvHeadCounts(), (std::vector<std::int64_t>{1, 2, 4, 8, 16, 32}));
}

TEST(ModelConfig, ReadsGqaAndExplicitHeadDim) {
    const ModelConfig c = ModelConfig::fromJson(
        R"({"model_type":"llama","vocab_size":10,"hidden_size":64,"intermediate_size":96,
            "num_hidden_layers":1,"num_attention_heads":4,"num_key_value_heads":2,"head_dim":32})",
        "c");
    EXPECT_EQ(c.groupSize(), 2);
    EXPECT_EQ(c.headDim, 32);
    EXPECT_EQ(c.qDim(), 128);
}

TEST(ModelConfig, ToJsonKeepsUnknownFieldsAndRoundTrips) {
    ModelConfig c = ModelConfig::fromJson(kLlama, "config.json");
    c.numKvHeads = 8;
    const ModelConfig back = ModelConfig::fromJson(c.toJson(), "out");
    EXPECT_EQ(back.numKvHeads, 8);
    EXPECT_EQ(back.intermediateSize, 11008);
    EXPECT_NE(c.toJson().find("custom_field"), std::string::npos);
}

TEST(ModelConfig, AcceptsLinearRopeScaling) {
    const ModelConfig c =
        ModelConfig::fromJson(withField("rope_scaling", R"({"type":"linear","factor":2.0})"), "c");
    EXPECT_DOUBLE_EQ(c.ropeLinearFactor, 2.0);
}

TEST(ModelConfig, RefusesUnsupportedArchitecture) {
    expectRefused(R"({"model_type":"falcon","vocab_size":1})", "model_type");
    expectRefused(R"({"architectures":["GPT2LMHeadModel"],"vocab_size":1})", "architectures");
}
TEST(ModelConfig, RefusesUnsupportedRopeScaling) {
    expectRefused(withField("rope_scaling", R"({"rope_type":"yarn","factor":4})"), "rope_scaling");
}
TEST(ModelConfig, RefusesMistypedBiasFlags) {
    // Biases are supported now (docs/model-families.md); a flag that is not a boolean is refused.
    expectRefused(withField("attention_bias", "\"yes\""), "attention_bias");
    expectRefused(withField("mlp_bias", "1"), "mlp_bias");
}
TEST(ModelConfig, RefusesMalformedJson) { expectRefused("{\"vocab_size\": ", "malformed JSON"); }
TEST(ModelConfig, RefusesMissingAndMistypedFields) {
    expectRefused(R"({"model_type":"llama","vocab_size":5})", "hidden_size");
    expectRefused(withField("num_key_value_heads", "\"eight\""), "num_key_value_heads");
}
TEST(ModelConfig, RefusesKvHeadsThatDoNotDivideHeads) {
    expectRefused(withField("num_key_value_heads", "5"), "num_key_value_heads");
}
TEST(ModelConfig, RefusesUnknownDtypeAndOutOfVocabTokenIds) {
    expectRefused(withField("torch_dtype", "\"int4\""), "torch_dtype");
    std::string text = kLlama;
    text.replace(text.find("\"eos_token_id\": 2"), 17, "\"eos_token_id\": 99999");
    expectRefused(text, "eos_token_id");
}
TEST(ModelConfig, MissingFileIsAnInputError) {
    EXPECT_THROW(ModelConfig::fromFile("/nonexistent/config.json"), InputError);
}

}  // namespace
}  // namespace gqa
