// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Text <-> token ids with a SentencePiece `tokenizer.model` (the Llama-1/2 format), and plain
// token-id files as an alternative input for users who tokenize elsewhere.
//
// BOS handling follows the checkpoint: tokenizer_config.json's "add_bos_token" (default true, as
// LlamaTokenizer) and "add_eos_token" (default false); ids come from the model config when given.
// Torch-free header; SentencePiece runs in a plug-in (see sentencepieceplugin.h).

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

namespace gqa {

struct ModelConfig;

class Tokenizer {
public:
    /// Loads a SentencePiece model file; InputError when missing or not a valid model.
    static Tokenizer load(const std::string& modelPath);
    /// Loads `folder/tokenizer.model` and the BOS/EOS settings of the folder and config.
    static Tokenizer forModelFolder(const std::string& folder, const ModelConfig& config);

    Tokenizer(Tokenizer&&) noexcept;
    Tokenizer& operator=(Tokenizer&&) noexcept;
    ~Tokenizer();

    /// Encodes text; prepends BOS / appends EOS according to the settings above.
    std::vector<std::int64_t> encode(const std::string& text) const;
    /// Encodes without any special token.
    std::vector<std::int64_t> encodePlain(const std::string& text) const;
    std::string decode(const std::vector<std::int64_t>& ids) const;

    std::int64_t vocabSize() const;
    std::int64_t unkId() const;
    std::int64_t padId() const;  ///< -1 when the model has no pad piece
    std::string idToPiece(std::int64_t id) const;
    std::int64_t pieceToId(const std::string& piece) const;
    std::int64_t bosId() const { return m_bosId; }
    std::int64_t eosId() const { return m_eosId; }
    bool addsBos() const { return m_addBos; }
    bool addsEos() const { return m_addEos; }
    void setAddsBos(bool on) { m_addBos = on; }
    void setAddsEos(bool on) { m_addEos = on; }

private:
    struct Impl;
    explicit Tokenizer(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
    std::int64_t m_bosId = 1;
    std::int64_t m_eosId = 2;
    bool m_addBos = true;
    bool m_addEos = false;
};

/// Reads whitespace-separated non-negative integer ids; InputError with the line number on any
/// other content, and when an id is >= vocabSize (vocabSize 0 disables that check).
std::vector<std::int64_t> readTokenIdFile(const std::string& path, std::int64_t vocabSize = 0);
void writeTokenIdFile(const std::string& path, const std::vector<std::int64_t>& ids);

/// Reads a whole UTF-8 text file; InputError when it cannot be read.
std::string readTextFile(const std::string& path);

}  // namespace gqa
