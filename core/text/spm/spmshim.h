// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// C interface of libgqa_spm, a small plug-in that wraps the SentencePiece library.
//
// Why a plug-in: Debian's libsentencepiece (0.1.97) carries and exports its own protobuf-lite 3.14,
// while LibTorch loads the system libprotobuf 3.21. Linked into one executable, each library's
// protobuf calls bind to the other's copy and the process aborts ("compiled against version 3.14
// ... installed version 3.21"), or crashes at start-up. The core therefore never links
// SentencePiece: it loads this plug-in with dlmopen into a link-map namespace of its own, so
// SentencePiece's symbols resolve to its own protobuf and stay invisible to everyone else. Only
// plain C types cross the boundary; outputs come back through callbacks. The plug-in is never
// built with the sanitizers (core/CMakeLists.txt says why), so sanitizer builds load it too.

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

typedef void (*GqaSpmBytesSink)(void* context, const char* data, size_t length);
typedef void (*GqaSpmIdsSink)(void* context, const int* ids, size_t count);

/// Loads a model file; returns NULL and writes the reason to `error` on failure.
void* gqa_spm_load(const char* path, GqaSpmBytesSink error, void* context);
void gqa_spm_free(void* model);
/// piece count, unk, bos, eos and pad ids (-1 when absent).
void gqa_spm_ids(void* model, int* pieces, int* unk, int* bos, int* eos, int* pad);
/// Returns 0 on success.
int gqa_spm_encode(void* model, const char* text, size_t length, GqaSpmIdsSink ids,
                   void* idsContext, GqaSpmBytesSink error, void* errorContext);
int gqa_spm_decode(void* model, const int* ids, size_t count, GqaSpmBytesSink text,
                   void* textContext, GqaSpmBytesSink error, void* errorContext);
void gqa_spm_id_to_piece(void* model, int id, GqaSpmBytesSink piece, void* context);
int gqa_spm_piece_to_id(void* model, const char* piece, size_t length);

/// Trains a model from sentences with options "key=value" separated by newlines; the serialized
/// model goes to `model`. Returns 0 on success.
int gqa_spm_train(const char* const* sentences, const size_t* lengths, size_t count,
                  const char* options, unsigned int seed, GqaSpmBytesSink model, void* modelContext,
                  GqaSpmBytesSink error, void* errorContext);

#ifdef __cplusplus
}
#endif
