// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// What the safetensors tests share (test_safetensors.cpp: round trips and writing,
// test_safetensorsreader.cpp: broken files and checkpoint folders): a fixture with a scratch
// folder, a hand-made file writer for broken inputs, and a sample of tensors of every dtype.

#include <unistd.h>

#include <cstring>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iterator>
#include <optional>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "base/error.h"
#include "io/safetensors.h"

namespace gqa::safetensorstest {

namespace fs = std::filesystem;

inline std::string readText(const fs::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

inline void writeText(const fs::path& path, const std::string& text) {
    std::ofstream out(path, std::ios::binary);
    out << text;
}

/// Hand-makes a safetensors file: 8-byte little-endian length, header text, data bytes.
inline void writeRaw(const fs::path& path, const std::string& header, const std::string& data = "",
                     std::optional<std::uint64_t> lengthField = std::nullopt) {
    const std::uint64_t length = lengthField.value_or(header.size());
    std::string bytes(reinterpret_cast<const char*>(&length), 8);
    writeText(path, bytes + header + data);
}

inline std::set<std::string> filesIn(const fs::path& folder) {
    std::set<std::string> names;
    for (const auto& entry : fs::directory_iterator(folder))
        names.insert(entry.path().filename().string());
    return names;
}

/// Runs `action` and checks it throws gqa::InputError whose message holds every phrase.
inline void expectInputError(const std::function<void()>& action,
                             const std::vector<std::string>& phrases) {
    try {
        action();
        ADD_FAILURE() << "no exception thrown";
    } catch (const InputError& e) {
        const std::string message = e.what();
        for (const std::string& phrase : phrases)
            EXPECT_NE(message.find(phrase), std::string::npos)
                << "message \"" << message << "\" lacks \"" << phrase << "\"";
    } catch (const std::exception& e) {
        ADD_FAILURE() << "expected gqa::InputError, got another exception: " << e.what();
    }
}

class SafetensorsTest : public ::testing::Test {
protected:
    void SetUp() override {
        static int counter = 0;
        m_dir = fs::temp_directory_path() / ("gqa_safetensors_test_" + std::to_string(::getpid()) +
                                             "_" + std::to_string(counter++));
        fs::remove_all(m_dir);
        fs::create_directories(m_dir);
    }
    void TearDown() override { fs::remove_all(m_dir); }

    std::string file(const std::string& name) const { return (m_dir / name).string(); }

    /// Writes a hand-made file and checks opening it fails with all the phrases (and the path).
    void expectBadFile(const std::string& header, const std::string& data,
                       const std::vector<std::string>& phrases) {
        const std::string path = file("broken.safetensors");
        writeRaw(path, header, data);
        std::vector<std::string> all = phrases;
        all.push_back(path);
        expectInputError([&] { SafetensorsFile::open(path); }, all);
    }

    fs::path m_dir;
};

/// A small model's worth of tensors of every common dtype, with recognisable bytes.
struct Sample {
    std::vector<float> f32{1.5f, -2.25f, 3.0f, 0.0f, 1e-3f, -7.0f};
    std::vector<std::uint16_t> f16{0x3c00, 0xc000, 0x7bff, 0x0001};
    std::vector<std::uint16_t> bf16{0x3f80, 0xbf80, 0x4049, 0x0000, 0x7f80, 0x1234};
    std::vector<std::int64_t> i64{-1, 0, 1, 1ll << 40};
    std::vector<std::uint8_t> u8{0, 1, 2, 254, 255};
    float scalar = 42.0f;

    std::vector<TensorView> views() const {
        return {
            {"model.layers.0.weight", DType::F32, {2, 3}, f32.data()},
            {"half", DType::F16, {4}, f16.data()},
            {"brain", DType::BF16, {3, 2}, bf16.data()},
            {"empty", DType::F32, {0, 5}, nullptr},
            {"ids", DType::I64, {2, 2}, i64.data()},
            {"bytes", DType::U8, {5}, u8.data()},
            {"scalar", DType::F32, {}, &scalar},
        };
    }
};

inline std::uint64_t bytesOf(const TensorView& v) {
    std::uint64_t n = dtypeSize(v.dtype);
    for (auto d : v.shape) n *= static_cast<std::uint64_t>(d);
    return n;
}

inline void expectSameBytes(const TensorView& view, const TensorInfo& info,
                            const std::uint8_t* data) {
    SCOPED_TRACE(view.name);
    EXPECT_EQ(info.name, view.name);
    EXPECT_EQ(info.dtype, view.dtype);
    EXPECT_EQ(info.shape, view.shape);
    ASSERT_EQ(info.byteSize(), bytesOf(view));
    if (info.byteSize() > 0) {
        EXPECT_EQ(std::memcmp(data, view.data, info.byteSize()), 0);
    }
}

}  // namespace gqa::safetensorstest
