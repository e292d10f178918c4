// SPDX-License-Identifier: GPL-3.0-or-later
#include "text/sentencepieceplugin.h"

#include <dlfcn.h>  // dlmopen (glibc; g++ defines _GNU_SOURCE)

#include <cstdlib>
#include <filesystem>
#include <mutex>

#include "base/error.h"
#include "base/installlayout.h"
#include "spm/spmshim.h"

namespace gqa::spm {
namespace fs = std::filesystem;

namespace {
struct Plugin {
    std::string path;
    decltype(&gqa_spm_load) load;
    decltype(&gqa_spm_free) free;
    decltype(&gqa_spm_ids) ids;
    decltype(&gqa_spm_encode) encode;
    decltype(&gqa_spm_decode) decode;
    decltype(&gqa_spm_id_to_piece) idToPiece;
    decltype(&gqa_spm_piece_to_id) pieceToId;
    decltype(&gqa_spm_train) train;
};

std::vector<fs::path> candidates() {
    std::vector<fs::path> paths;
    if (const char* env = std::getenv("GQA_SPM_PLUGIN")) paths.emplace_back(env);
    if (const fs::path dir = pluginDir(); !dir.empty()) paths.push_back(dir / "libgqa_spm.so");
    return paths;
}

template <typename F>
void bind(void* library, const char* name, F& out) {
    out = reinterpret_cast<F>(dlsym(library, name));
    if (!out) throw Error(std::string("SentencePiece plug-in lacks ") + name);
}

const Plugin& plugin() {
    static Plugin p;
    static std::once_flag once;
    std::call_once(once, [] {
        std::string tried;
        for (const fs::path& candidate : candidates()) {
            if (!fs::exists(candidate)) {
                tried += " " + candidate.string();
                continue;
            }
            // A link-map namespace of its own: SentencePiece, its protobuf-lite and its C++ runtime
            // never meet LibTorch's libprotobuf. Only C types and callbacks cross (spmshim.h).
            void* library = dlmopen(LM_ID_NEWLM, candidate.c_str(), RTLD_NOW | RTLD_LOCAL);
            if (!library) throw Error("cannot load " + candidate.string() + ": " + dlerror());
            p.path = fs::weakly_canonical(candidate).string();
            bind(library, "gqa_spm_load", p.load);
            bind(library, "gqa_spm_free", p.free);
            bind(library, "gqa_spm_ids", p.ids);
            bind(library, "gqa_spm_encode", p.encode);
            bind(library, "gqa_spm_decode", p.decode);
            bind(library, "gqa_spm_id_to_piece", p.idToPiece);
            bind(library, "gqa_spm_piece_to_id", p.pieceToId);
            bind(library, "gqa_spm_train", p.train);
            return;
        }
        throw Error("SentencePiece plug-in libgqa_spm.so not found (looked at:" + tried +
                    "); set GQA_SPM_PLUGIN to its path");
    });
    if (!p.load) throw Error("SentencePiece plug-in failed to load earlier");
    return p;
}

void appendBytes(void* context, const char* data, std::size_t length) {
    static_cast<std::string*>(context)->append(data, length);
}
void appendIds(void* context, const int* ids, std::size_t count) {
    auto* out = static_cast<std::vector<int>*>(context);
    out->insert(out->end(), ids, ids + count);
}
}  // namespace

std::string pluginPath() { return plugin().path; }

Model::Model(const std::string& path) {
    std::string error;
    m_handle = plugin().load(path.c_str(), appendBytes, &error);
    if (!m_handle) throw InputError(path + ": not a valid SentencePiece model (" + error + ")");
}

Model::Model(Model&& other) noexcept : m_handle(other.m_handle) { other.m_handle = nullptr; }

Model& Model::operator=(Model&& other) noexcept {
    std::swap(m_handle, other.m_handle);
    return *this;
}

Model::~Model() {
    if (m_handle) plugin().free(m_handle);
}

SpecialIds Model::ids() const {
    SpecialIds s;
    plugin().ids(m_handle, &s.pieces, &s.unk, &s.bos, &s.eos, &s.pad);
    return s;
}

std::vector<int> Model::encode(const std::string& text) const {
    std::vector<int> ids;
    std::string error;
    if (plugin().encode(m_handle, text.data(), text.size(), appendIds, &ids, appendBytes, &error))
        throw Error("SentencePiece failed to encode: " + error);
    return ids;
}

std::string Model::decode(const std::vector<int>& ids) const {
    std::string text, error;
    if (plugin().decode(m_handle, ids.data(), ids.size(), appendBytes, &text, appendBytes, &error))
        throw Error("SentencePiece failed to decode: " + error);
    return text;
}

std::string Model::idToPiece(int id) const {
    std::string piece;
    plugin().idToPiece(m_handle, id, appendBytes, &piece);
    return piece;
}

int Model::pieceToId(const std::string& piece) const {
    return plugin().pieceToId(m_handle, piece.data(), piece.size());
}

std::string train(const std::vector<std::string>& sentences,
                  const std::vector<std::pair<std::string, std::string>>& options,
                  unsigned int seed) {
    std::vector<const char*> data;
    std::vector<std::size_t> lengths;
    for (const auto& s : sentences) {
        data.push_back(s.data());
        lengths.push_back(s.size());
    }
    std::string optionText;
    for (const auto& [key, value] : options) optionText += key + "=" + value + "\n";
    std::string model, error;
    if (plugin().train(data.data(), lengths.data(), data.size(), optionText.c_str(), seed,
                       appendBytes, &model, appendBytes, &error))
        throw InputError("SentencePiece: " + error);
    return model;
}

}  // namespace gqa::spm
