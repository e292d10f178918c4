// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Which weights the conversion training updates (method §10). The conversion only changes the
// key/value side of attention, so by default only that is trained: everything else stays frozen
// with no gradient and no optimiser state, which is what lets a 7B conversion fit one GPU.
// Torch-free so that the studio's headers can use it.
//
//   merged     the merged KV heads and the gates only
//   kv         + every layer's k_proj and v_proj                       (default)
//   attention  + q_proj and o_proj
//   all        every weight (embeddings, norms, MLP too): the reference code's full fine-tuning
//
// The merged heads and the gates are trained in every scope.

#include <optional>
#include <string>

namespace gqa {

enum class TrainScope { Merged, KeyValue, Attention, All };

/// "merged", "kv", "attention", "all".
std::string trainScopeName(TrainScope scope);
std::optional<TrainScope> parseTrainScope(const std::string& name);

/// Whether a projection of a decoder layer is trained in `scope`. `projection` is the Hugging
/// Face suffix without ".weight": "q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj",
/// "down_proj", "input_layernorm", "post_attention_layernorm"; embeddings, final norm and LM head
/// ("embed_tokens", "norm", "lm_head") are trained only in All.
bool isTrainedIn(TrainScope scope, const std::string& projection);

}  // namespace gqa
