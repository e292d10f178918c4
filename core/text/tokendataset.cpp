// SPDX-License-Identifier: GPL-3.0-or-later
#include "text/tokendataset.h"

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "base/error.h"
#include "text/tokenizer.h"

namespace gqa {
namespace fs = std::filesystem;

namespace {
constexpr char kCacheMagic[8] = {'G', 'Q', 'A', 'T', 'O', 'K', 'S', '1'};
constexpr std::uint64_t kFnvOffset = 14695981039346656037ull;
constexpr std::uint64_t kFnvPrime = 1099511628211ull;

std::uint64_t fnv1a(std::uint64_t hash, const std::string& bytes) {
    for (unsigned char c : bytes) hash = (hash ^ c) * kFnvPrime;
    // Mix in the length so that concatenations of different splits hash differently.
    const std::uint64_t n = bytes.size();
    for (int i = 0; i < 8; ++i) hash = (hash ^ ((n >> (8 * i)) & 0xff)) * kFnvPrime;
    return hash;
}

template <typename T>
void writeRaw(std::ofstream& out, const T& value) {
    out.write(reinterpret_cast<const char*>(&value), sizeof value);
}
template <typename T>
bool readRaw(std::ifstream& in, T& value) {
    return bool(in.read(reinterpret_cast<char*>(&value), sizeof value));
}
}  // namespace

TokenDataset::TokenDataset(const std::vector<std::int64_t>& ids)
    : m_ids(torch::tensor(ids, torch::kLong)) {}

std::int64_t TokenDataset::maxId() const { return size() ? m_ids.max().item<std::int64_t>() : -1; }

TokenDataset TokenDataset::fromTextFiles(const std::vector<std::string>& files,
                                         const std::string& tokenizerPath,
                                         const std::string& cachePath, ProgressSink& progress) {
    if (files.empty()) throw InputError("no text files to tokenize");
    reportOrCancel(progress, {0.0, "reading text", {}});
    Tokenizer tokenizer = Tokenizer::load(tokenizerPath);
    std::uint64_t fingerprint = fnv1a(kFnvOffset, readTextFile(tokenizerPath));
    fingerprint = fnv1a(fingerprint, std::string(tokenizer.addsBos() ? "B1" : "B0") +
                                         (tokenizer.addsEos() ? "E1" : "E0"));
    std::vector<std::string> texts;
    for (const std::string& file : files) {
        texts.push_back(readTextFile(file));
        fingerprint = fnv1a(fingerprint, texts.back());
    }
    std::vector<std::int64_t> ids;
    if (!cachePath.empty() && readTokenCache(cachePath, fingerprint, ids)) return TokenDataset(ids);

    for (std::size_t i = 0; i < texts.size(); ++i) {
        reportOrCancel(progress, {double(i) / double(texts.size()), "tokenizing", {}});
        const std::vector<std::int64_t> doc = tokenizer.encode(texts[i]);
        ids.insert(ids.end(), doc.begin(), doc.end());
    }
    reportOrCancel(progress, {1.0, "tokenizing", {{"tokens", double(ids.size())}}});
    if (!cachePath.empty()) writeTokenCache(cachePath, ids, fingerprint);
    return TokenDataset(ids);
}

TokenBatch TokenDataset::sampleBatch(std::int64_t batch, std::int64_t seqLen,
                                     torch::Generator& generator) const {
    if (seqLen < 1 || batch < 1) throw InputError("batch size and sequence length must be >= 1");
    if (size() < seqLen + 1)
        throw InputError(
            "the token stream has " + std::to_string(size()) +
            " tokens; a window needs sequence length + 1 = " + std::to_string(seqLen + 1));
    const torch::Tensor offsets =
        torch::randint(0, size() - seqLen, {batch}, generator, torch::kLong);
    const torch::Tensor index = offsets.unsqueeze(1) + torch::arange(seqLen + 1, torch::kLong);
    const torch::Tensor windows = m_ids.index({index});  // [B, T + 1]
    return {windows.slice(1, 0, seqLen).contiguous(), windows.slice(1, 1, seqLen + 1).contiguous()};
}

std::vector<TokenBatch> TokenDataset::fixedBatches(std::int64_t batch, std::int64_t seqLen,
                                                   std::int64_t maxBatches) const {
    std::vector<TokenBatch> batches;
    if (seqLen < 1 || batch < 1 || size() < seqLen + 1) return batches;
    const std::int64_t windows = (size() - 1) / seqLen;
    for (std::int64_t first = 0; first < windows; first += batch) {
        if (maxBatches > 0 && std::int64_t(batches.size()) >= maxBatches) break;
        const std::int64_t count = std::min(batch, windows - first);
        const torch::Tensor starts = (first + torch::arange(count, torch::kLong)) * seqLen;
        const torch::Tensor index = starts.unsqueeze(1) + torch::arange(seqLen + 1, torch::kLong);
        const torch::Tensor w = m_ids.index({index});
        batches.push_back({w.slice(1, 0, seqLen).contiguous(), w.slice(1, 1).contiguous()});
    }
    return batches;
}

void writeTokenCache(const std::string& path, const std::vector<std::int64_t>& ids,
                     std::uint64_t fingerprint) {
    std::int64_t maxId = 0;
    for (auto id : ids) {
        if (id < 0) throw Error("negative token id in a token cache");
        maxId = std::max(maxId, id);
    }
    const std::uint32_t width = maxId < 65536 ? 2 : 4;
    if (fs::path(path).has_parent_path()) fs::create_directories(fs::path(path).parent_path());
    const std::string tmp = path + ".tmp";
    {
        std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
        if (!out) throw InputError(tmp + ": cannot write the token cache");
        out.write(kCacheMagic, sizeof kCacheMagic);
        writeRaw(out, width);
        writeRaw(out, std::uint32_t{0});
        writeRaw(out, fingerprint);
        writeRaw(out, std::uint64_t(ids.size()));
        for (auto id : ids) {
            if (width == 2)
                writeRaw(out, std::uint16_t(id));
            else
                writeRaw(out, std::int32_t(id));
        }
        if (!out.flush()) throw InputError(tmp + ": cannot write the token cache");
    }
    fs::rename(tmp, path);
}

bool readTokenCache(const std::string& path, std::uint64_t fingerprint,
                    std::vector<std::int64_t>& ids) {
    std::ifstream in(path, std::ios::binary);
    if (!in) return false;
    char magic[8];
    std::uint32_t width = 0, reserved = 0;
    std::uint64_t stored = 0, count = 0;
    if (!in.read(magic, sizeof magic) || std::memcmp(magic, kCacheMagic, sizeof magic) != 0 ||
        !readRaw(in, width) || !readRaw(in, reserved) || !readRaw(in, stored) ||
        !readRaw(in, count) || (width != 2 && width != 4) || stored != fingerprint)
        return false;
    std::error_code ec;
    const std::uint64_t fileSize = fs::file_size(path, ec);
    // Compared by division: 32 + count * width wraps around for a huge count.
    if (ec || fileSize < 32 || (fileSize - 32) % width != 0 || (fileSize - 32) / width != count)
        return false;
    // Read into a local vector: `ids` changes only on success (fromTextFiles appends to it after a
    // miss).
    std::vector<std::int64_t> loaded(count);
    if (width == 2) {
        std::vector<std::uint16_t> raw(count);
        in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(count * width));
        std::copy(raw.begin(), raw.end(), loaded.begin());
    } else {
        std::vector<std::int32_t> raw(count);
        in.read(reinterpret_cast<char*>(raw.data()), std::streamsize(count * width));
        // The writer never stores a negative id: such a file is corrupt.
        if (std::any_of(raw.begin(), raw.end(), [](std::int32_t id) { return id < 0; }))
            return false;
        std::copy(raw.begin(), raw.end(), loaded.begin());
    }
    if (!in) return false;
    ids = std::move(loaded);
    return true;
}

}  // namespace gqa
