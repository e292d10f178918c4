// SPDX-License-Identifier: GPL-3.0-or-later
#include "text/tokenizer.h"

#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "io/modelconfig.h"
#include "text/sentencepieceplugin.h"
#include "text/tokenizersettings.h"

namespace gqa {
namespace fs = std::filesystem;

struct Tokenizer::Impl {
    explicit Impl(const std::string& path) : model(path) {}
    spm::Model model;
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::string& modelPath) {
    if (!fs::is_regular_file(modelPath))
        throw InputError(modelPath + ": tokenizer model not found");
    Tokenizer tokenizer(std::make_unique<Impl>(modelPath));
    const spm::SpecialIds ids = tokenizer.m_impl->model.ids();
    if (ids.bos >= 0) tokenizer.m_bosId = ids.bos;
    if (ids.eos >= 0) tokenizer.m_eosId = ids.eos;
    return tokenizer;
}

Tokenizer Tokenizer::forModelFolder(const std::string& folder, const ModelConfig& config) {
    Tokenizer tokenizer = load((fs::path(folder) / "tokenizer.model").string());
    if (config.bosTokenId) tokenizer.m_bosId = *config.bosTokenId;
    if (config.eosTokenId) tokenizer.m_eosId = *config.eosTokenId;
    const fs::path settings = fs::path(folder) / "tokenizer_config.json";
    if (fs::exists(settings)) {
        const TokenizerSettings parsed =
            parseTokenizerSettings(readTextFile(settings.string()), settings.string());
        if (parsed.addBos) tokenizer.m_addBos = *parsed.addBos;
        if (parsed.addEos) tokenizer.m_addEos = *parsed.addEos;
    }
    return tokenizer;
}

std::vector<std::int64_t> Tokenizer::encodePlain(const std::string& text) const {
    const std::vector<int> ids = m_impl->model.encode(text);
    return std::vector<std::int64_t>(ids.begin(), ids.end());
}

std::vector<std::int64_t> Tokenizer::encode(const std::string& text) const {
    std::vector<std::int64_t> ids;
    if (m_addBos) ids.push_back(m_bosId);
    const auto body = encodePlain(text);
    ids.insert(ids.end(), body.begin(), body.end());
    if (m_addEos) ids.push_back(m_eosId);
    return ids;
}

std::string Tokenizer::decode(const std::vector<std::int64_t>& ids) const {
    std::vector<int> narrow;
    narrow.reserve(ids.size());
    for (std::int64_t id : ids)
        if (id >= 0 && id < vocabSize()) narrow.push_back(static_cast<int>(id));
    return m_impl->model.decode(narrow);
}

std::int64_t Tokenizer::vocabSize() const { return m_impl->model.ids().pieces; }
std::int64_t Tokenizer::unkId() const { return m_impl->model.ids().unk; }
std::int64_t Tokenizer::padId() const { return m_impl->model.ids().pad; }
std::string Tokenizer::idToPiece(std::int64_t id) const {
    return m_impl->model.idToPiece(static_cast<int>(id));
}
std::int64_t Tokenizer::pieceToId(const std::string& piece) const {
    return m_impl->model.pieceToId(piece);
}

std::string readTextFile(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open (no such file or not readable)");
    std::ostringstream text;
    text << in.rdbuf();
    return text.str();
}

std::vector<std::int64_t> readTokenIdFile(const std::string& path, std::int64_t vocabSize) {
    std::ifstream in(path);
    if (!in) throw InputError(path + ": cannot open token-id file");
    std::vector<std::int64_t> ids;
    std::string line;
    for (std::size_t lineNo = 1; std::getline(in, line); ++lineNo) {
        std::istringstream words(line);
        std::string word;
        while (words >> word) {
            std::size_t used = 0;
            long long id = -1;
            try {
                id = std::stoll(word, &used);
            } catch (const std::exception&) {
                used = 0;
            }
            if (used != word.size() || id < 0)
                throw InputError(path + ":" + std::to_string(lineNo) + ": '" + word +
                                 "' is not a non-negative integer token id");
            if (vocabSize > 0 && id >= vocabSize)
                throw InputError(path + ":" + std::to_string(lineNo) + ": token id " + word +
                                 " is outside the vocabulary (size " + std::to_string(vocabSize) +
                                 ")");
            ids.push_back(id);
        }
    }
    return ids;
}

void writeTokenIdFile(const std::string& path, const std::vector<std::int64_t>& ids) {
    std::ofstream out(path, std::ios::trunc);
    for (std::size_t i = 0; i < ids.size(); ++i) out << ids[i] << ((i + 1) % 32 ? ' ' : '\n');
    out << '\n';
    if (!out) throw Error(path + ": cannot write token-id file");
}

}  // namespace gqa
