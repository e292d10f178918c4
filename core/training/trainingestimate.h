// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The memory and time a conversion training will need, from the model's config and the run's
// settings alone: nothing is allocated and no weights are read, so a 7B-shaped config.json is
// enough (`gqa-cli train --dry-run`) and the wizard can show it before a run starts.
// Torch-free (the studio includes it).
//
// The memory model counts what the trainer (conversionsession.h, conversiontrainer.cpp) holds
// per rank, tensor by tensor, with e the compute dtype's bytes (4 float32, 2 bfloat16):
//   frozen weights       every weight outside the train scope, stored in the compute dtype
//   trainable masters    float32 trained weights, merged heads [G*d, D] x 2 per layer, gates,
//                        and from the least-squares start each head's refitted q/o [H*d, D] x 2
//   gradients            float32, one per trainable value (LibTorch 1.13's zero_grad keeps them)
//   AdamW state          2 x float32 per trainable value (/ world size with ZeRO-1)
//   teacher              the original values of the trained projections in the compute dtype
//                        (the frozen ones are shared with the student), or a whole model with a
//                        separate teacher
//   compute copies       trained weights other than k/v cast to the compute dtype and kept by
//                        autograd (none in float32)
//   gated K/V weights    per layer, for K and V: the merged heads spread to every head (float32,
//                        kept because the gates need its gradient) and the mixed [H*d, D]
//                        weight in the compute dtype (kept by the projection); from the
//                        least-squares start the same for Q and O (the refitted [H*d, D] ones)
//   kept activations     checkpointing: each layer's input plus the final norm's; without it,
//                        every layer's saved tensors (see below)
//   working set          what the phase of the peak adds: the teacher's or a checkpointed layer's
//                        forward (attention scores), the distillation's logits chunk, a layer's
//                        recompute and backward, AdamW's step
// On the CPU the loaded checkpoint stays alive for the whole run (it is the teacher's source)
// and weights already stored in the compute dtype share its storage instead of being copied.
//
// Saved tensors of one decoder layer in backward (LibTorch saves an operand only when the other
// operand's gradient is needed; N = B*T tokens, S = B*H*T*T scores, w = 4 the RMSNorm width):
//   RMSNorm             2 x w*N*D (its float32 input and x^2) when its input needs a gradient
//   q, k, v             the normed input (k/v always train), q and k as copied for the score
//                       matmul, v as copied for probs @ v
//   softmax             the float32 probabilities, plus their compute-dtype copy in bfloat16
//   MLP                 gate_proj output (SiLU), SiLU output and up_proj output (their product)
//   trained q/o/MLP     their inputs too (attention output, normed input, SiLU * up)
// The first layer's input needs no gradient unless the embeddings train, so its first RMSNorm
// and the copy of k are not kept. The distillation (distillation.h) keeps per position the
// student's float32 logits (for BiLD's gather) and their fused gradient, and at its peak
// holds 9 [chunk, V] float32 tensors (student, teacher, two log-softmaxes, two exps, two scaled
// exps, the gradient). tests/test_trainingestimate.cpp checks the total against the measured
// peak of tensor memory (memorytracker.h) on the demo model within kEstimateTolerance.
// The count is for the updates while the gates train (1..P, the larger: afterwards the spread
// merged heads are no longer kept) and follows LibTorch 1.13's rules for saved tensors; 2.x's
// zero_grad frees the gradients between updates, so there the estimate is a little high. It
// counts tensors only: the CUDA context, cuBLAS workspaces and the caching allocator's
// fragmentation come on top on a GPU, the runtime's own few hundred MiB on a CPU.
//
// FLOPs per micro-batch: a forward costs 2 FLOPs per token and matmul weight (the LM head only
// on the distilled positions) plus 4*B*H*T*T*d per layer for the scores and probs @ v (computed
// in full, then masked); the update adds the teacher's forward, the recompute of every layer
// with checkpointing, and the backward: gradients of the activations (one forward's worth),
// of the trained weights and of k/v (their FLOPs again), and 2x the attention's.

#include <cstdint>
#include <string>
#include <vector>

#include "base/dtype.h"
#include "io/modelconfig.h"
#include "training/trainscope.h"

namespace gqa {

/// The estimate must be within 20% of the measured peak (method §10).
constexpr double kEstimateTolerance = 0.20;

struct TrainingShape {
    std::int64_t groups = 1;
    TrainScope scope = TrainScope::KeyValue;
    DType compute = DType::F32;  ///< F32 or BF16 (float32 masters either way); F64 for tests
    std::int64_t batchSize = 8;  ///< sequences per micro-batch on one rank
    std::int64_t seqLen = 256;
    std::int64_t gradAccumulation = 1;
    std::int64_t steps = 200;
    bool checkpointActivations = true;
    std::int64_t chunkPositions = 1024;  ///< DistillationSettings::chunkPositions
    std::int64_t bildTopK = 16;          ///< DistillationSettings::bildTopK
    bool separateTeacher = false;        ///< a teacher folder other than the student's
    /// The least-squares start (gatedkvmodel.h): each query head's refitted q_proj/o_proj are
    /// trained and blended too.
    bool refitsQueries = false;
    int worldSize = 1;
    bool shardOptimizer = false;  ///< ZeRO-1: AdamW state split across ranks
    /// Training on the CPU: the loaded checkpoint and the training tokens share the memory of
    /// the training (on a GPU they stay in host memory, TrainingPlan::hostMemory).
    bool cpu = false;
    std::int64_t datasetTokens = 0;  ///< training text tokens when known (held as int64)
};

/// What a memory item is, for summaries that group items (the wizard's estimate): typed, so that
/// renaming an item never moves its bytes into another group.
enum class MemoryCategory { Weights, Optimizer, Teacher, Activations };
const char* memoryCategoryName(MemoryCategory category);  ///< "weights", "optimizer", ...

struct MemoryItem {
    std::string name;  ///< "frozen weights", "trainable masters", ...
    double bytes = 0.0;
    std::string detail;  ///< how it was counted, for the plan printout
    MemoryCategory category = MemoryCategory::Activations;
};

struct TrainingPlan {
    std::int64_t trainableParameters = 0;  ///< trained weights, merged heads, gate parameters
    std::int64_t frozenParameters = 0;
    /// Per rank, on the training device, at the peak: the state held throughout, then the
    /// activations and working set of the peak's phase.
    std::vector<MemoryItem> memory;
    std::string peakPhase;               ///< the phase where the peak falls
    std::vector<MemoryItem> phases;      ///< the total at each phase's own peak
    std::vector<MemoryItem> hostMemory;  ///< GPU runs: what stays in host memory
    double totalBytes() const;
    double hostBytes() const;
    double flopsPerUpdate = 0.0;    ///< per rank: student forward, recompute, backward, teacher
    double tokensPerUpdate = 0.0;   ///< all ranks together
    double secondsPerUpdate = 0.0;  ///< flopsPerUpdate / effective FLOP/s
    double totalSeconds = 0.0;
};

/// `effectiveFlopsPerSecond`: the rate the device sustains on this training (measured or stated
/// by the user); 0 leaves the time fields 0. InputError for a shape the trainer refuses (groups
/// not dividing the heads, a non-MHA model, sizes < 1).
TrainingPlan planTraining(const ModelConfig& model, const TrainingShape& shape,
                          double effectiveFlopsPerSecond);

}  // namespace gqa
