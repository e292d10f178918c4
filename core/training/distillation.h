// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The distillation losses of the conversion training (method §6.6, the reference's
// CustomTrainerForDistillationL0Prune.compute_loss): the student (the model being converted to
// GQA) learns to reproduce the outputs of a frozen teacher (the SFT model) on the same batch.
//
//   L = klWeight * L_I + bildWeight * L_B + lmWeight * L_LM         (reference: 1, 1, 0)
//
// - L_I, instruction KL: on positions whose next token is a prompt token, the full-vocabulary
//   KL(softmax(z_teacher) || softmax(z_student)) at temperature 1, averaged over those positions.
// - L_B, BiLD ("Bi-directional Logits Difference", Li et al. 2024) on answer positions:
//     t-LD: take the teacher's top-k logit indices, gather the student's logits there, divide both
//           by tau, form the k(k-1)/2 pairwise differences l_a - l_b (a < b, in top-k order) and
//           take KL(softmax(diff_teacher) || softmax(diff_student)), summed over those entries;
//     s-LD: the same with the student's top-k indices (still teacher || student);
//   each position contributes tLD + sLD; a sample's loss is the mean over its BiLD positions, and
//   L_B is the mean over the samples that have any. Only logit differences enter, so adding a
//   constant to all logits of either model changes nothing.
// - L_LM: mean cross-entropy of the student on the lmMask positions (off in the reference).
//
// Memory: logits are never formed for the whole batch. The positions that any mask selects are
// processed `chunkPositions` at a time; each chunk's logits are computed in float32 (float64 when
// the hidden states are float64) from the final-norm hidden states and the LM head. The teacher's
// chunk is computed without grad and freed at once, so B*T*V teacher logits never exist together.
// The student's chunks are kept by autograd until backward: the KL and cross-entropy of a chunk
// are fused so that only one [chunk, V] tensor (their gradient with respect to the student's
// logits) is kept, so the student side still costs about (selected positions) * V floats;
// chunking bounds the peak of the temporaries, not that.

#include <cstdint>

#include <torch/torch.h>

namespace gqa {

/// One training batch for distillation. inputs [B,T] int64; the loss masks are float [B,T] over
/// positions t, where position t predicts token inputs[b, t+1] == targets[b, t]. targets uses
/// -100 where nothing is predicted (padding).
struct DistillBatch {
    torch::Tensor inputs, targets;
    torch::Tensor klMask;    ///< positions whose full-vocabulary KL counts (reference: next token
                             ///< is a prompt token)
    torch::Tensor bildMask;  ///< positions for the BiLD loss (reference: next token is an answer
                             ///< token)
    torch::Tensor lmMask;    ///< positions for the optional cross-entropy (answer tokens)
    std::int64_t tokens() const;  ///< number of non-padding positions
};

/// Defaults are the reference's (method §6.6: L = L_I + L_B, --lm_loss_weight 0).
struct DistillationSettings {
    double klWeight = 1.0;
    double bildWeight = 1.0;
    double lmWeight = 0.0;
    std::int64_t bildTopK = 16;          ///< --bild_topk (clamped to the vocabulary size)
    double bildTemperature = 3.0;        ///< --temperature
    std::int64_t chunkPositions = 1024;  ///< (b, t) positions per logits chunk; <= 0: all at once
};

/// Scalars. `total` carries the gradient (it requires grad whenever the student does, even when
/// every mask is empty); kl, bild and lm are the unweighted terms as detached values for
/// reporting, each 0 when its mask is empty.
struct DistillationLoss {
    torch::Tensor total, kl, bild, lm;
};

/// studentHidden / teacherHidden: final-norm hidden states [B,T,D] (DecoderModel::hiddenStates);
/// studentLmHead / teacherLmHead: [V,D] each (the two D may differ, V must not). The teacher side
/// is computed without grad; the teacher's logits are moved to the student's device. Error on
/// mismatched shapes, InputError on bad settings (top-k < 2, temperature <= 0).
DistillationLoss distillationLoss(const torch::Tensor& studentHidden,
                                  const torch::Tensor& studentLmHead,
                                  const torch::Tensor& teacherHidden,
                                  const torch::Tensor& teacherLmHead, const DistillBatch& batch,
                                  const DistillationSettings& settings);

}  // namespace gqa
