// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Loads libgqa_spm (see spm/spmshim.h for why SentencePiece lives in a plug-in) and exposes it as
// C++ calls. The plug-in is looked for, in order: $GQA_SPM_PLUGIN; <exe dir>/../lib/gqa-studio/
// (build tree and installed tree share this layout, see installlayout.h).

#include <cstdint>
#include <string>
#include <vector>

namespace gqa::spm {

struct SpecialIds {
    int pieces = 0, unk = -1, bos = -1, eos = -1, pad = -1;
};

/// A loaded SentencePiece model; move-only.
class Model {
public:
    /// InputError naming the file when it cannot be loaded.
    explicit Model(const std::string& path);
    Model(Model&& other) noexcept;
    Model& operator=(Model&& other) noexcept;
    Model(const Model&) = delete;
    Model& operator=(const Model&) = delete;
    ~Model();

    SpecialIds ids() const;
    std::vector<int> encode(const std::string& text) const;
    std::string decode(const std::vector<int>& ids) const;
    std::string idToPiece(int id) const;
    int pieceToId(const std::string& piece) const;

private:
    void* m_handle = nullptr;
};

/// Trains on `sentences` with SentencePiece options; returns the serialized model.
/// InputError with SentencePiece's reason when it refuses.
std::string train(const std::vector<std::string>& sentences,
                  const std::vector<std::pair<std::string, std::string>>& options,
                  unsigned int seed);

/// Path of the plug-in in use (loads it if needed); Error when it cannot be found.
std::string pluginPath();

}  // namespace gqa::spm
