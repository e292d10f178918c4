// SPDX-License-Identifier: GPL-3.0-or-later
// The plug-in side of spmshim.h: thin forwarding to SentencePiece.
#include "spmshim.h"

#include <memory>
#include <sstream>
#include <string>
#include <unordered_map>
#include <vector>

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

namespace {
using Processor = sentencepiece::SentencePieceProcessor;

void sendText(GqaSpmBytesSink sink, void* context, const std::string& text) {
    if (sink) sink(context, text.data(), text.size());
}

/// Runs `body`, turning any C++ exception into an error message (none may cross namespaces).
template <typename Body>
int guarded(GqaSpmBytesSink error, void* context, Body body) {
    try {
        return body();
    } catch (const std::exception& e) {
        sendText(error, context, e.what());
    } catch (...) {
        sendText(error, context, "unknown SentencePiece failure");
    }
    return 1;
}

class SentenceList : public sentencepiece::SentenceIterator {
public:
    SentenceList(const char* const* sentences, const size_t* lengths, size_t count)
        : m_sentences(sentences), m_lengths(lengths), m_count(count) {
        load();
    }
    bool done() const override { return m_index >= m_count; }
    void Next() override {
        ++m_index;
        load();
    }
    const std::string& value() const override { return m_current; }
    sentencepiece::util::Status status() const override { return {}; }

private:
    void load() {
        if (m_index < m_count) m_current.assign(m_sentences[m_index], m_lengths[m_index]);
    }
    const char* const* m_sentences;
    const size_t* m_lengths;
    size_t m_count;
    size_t m_index = 0;
    std::string m_current;
};
}  // namespace

extern "C" {

void* gqa_spm_load(const char* path, GqaSpmBytesSink error, void* context) {
    Processor* processor = nullptr;
    guarded(error, context, [&] {
        auto owned = std::make_unique<Processor>();
        const auto status = owned->Load(path);
        if (!status.ok()) {
            sendText(error, context, status.ToString());
            return 1;
        }
        processor = owned.release();
        return 0;
    });
    return processor;
}

void gqa_spm_free(void* model) { delete static_cast<Processor*>(model); }

void gqa_spm_ids(void* model, int* pieces, int* unk, int* bos, int* eos, int* pad) {
    auto* p = static_cast<Processor*>(model);
    *pieces = p->GetPieceSize();
    *unk = p->unk_id();
    *bos = p->bos_id();
    *eos = p->eos_id();
    *pad = p->pad_id();
}

int gqa_spm_encode(void* model, const char* text, size_t length, GqaSpmIdsSink ids,
                   void* idsContext, GqaSpmBytesSink error, void* errorContext) {
    return guarded(error, errorContext, [&] {
        std::vector<int> out;
        const auto status = static_cast<Processor*>(model)->Encode(std::string(text, length), &out);
        if (!status.ok()) {
            sendText(error, errorContext, status.ToString());
            return 1;
        }
        ids(idsContext, out.data(), out.size());
        return 0;
    });
}

int gqa_spm_decode(void* model, const int* ids, size_t count, GqaSpmBytesSink text,
                   void* textContext, GqaSpmBytesSink error, void* errorContext) {
    return guarded(error, errorContext, [&] {
        std::string out;
        const auto status =
            static_cast<Processor*>(model)->Decode(std::vector<int>(ids, ids + count), &out);
        if (!status.ok()) {
            sendText(error, errorContext, status.ToString());
            return 1;
        }
        sendText(text, textContext, out);
        return 0;
    });
}

void gqa_spm_id_to_piece(void* model, int id, GqaSpmBytesSink piece, void* context) {
    guarded(nullptr, nullptr, [&] {
        sendText(piece, context, static_cast<Processor*>(model)->IdToPiece(id));
        return 0;
    });
}

int gqa_spm_piece_to_id(void* model, const char* piece, size_t length) {
    return static_cast<Processor*>(model)->PieceToId(std::string(piece, length));
}

int gqa_spm_train(const char* const* sentences, const size_t* lengths, size_t count,
                  const char* options, unsigned int seed, GqaSpmBytesSink model, void* modelContext,
                  GqaSpmBytesSink error, void* errorContext) {
    return guarded(error, errorContext, [&] {
        std::unordered_map<std::string, std::string> kwargs;
        std::istringstream lines(options);
        for (std::string line; std::getline(lines, line);) {
            const auto eq = line.find('=');
            if (eq != std::string::npos) kwargs[line.substr(0, eq)] = line.substr(eq + 1);
        }
        sentencepiece::SetRandomGeneratorSeed(seed);
        SentenceList iterator(sentences, lengths, count);
        std::string serialized;
        const auto status =
            sentencepiece::SentencePieceTrainer::Train(kwargs, &iterator, &serialized);
        if (!status.ok()) {
            sendText(error, errorContext, status.ToString());
            return 1;
        }
        sendText(model, modelContext, serialized);
        return 0;
    });
}

}  // extern "C"
