// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/trainingestimate.h"

#include <algorithm>
#include <cmath>

#include "base/error.h"

namespace gqa {
namespace {

constexpr double kFloat32 = 4.0;    // masters, gradients, AdamW moments, merged heads, gates
constexpr double kAdamMoments = 2;  // exp_avg, exp_avg_sq (no amsgrad)
constexpr double kTokenBytes = 8;   // int64 token ids
constexpr double kMaskBytes = 1;    // the causal mask is a bool [T, T] per layer
/// Live [chunk, V] tensors at the distillation's peak, inside FusedKlCe::forward
/// (distillation.cpp): student and teacher logits, the teacher's and the student's
/// log-softmax, and in the gradient expression two exps, two scaled exps and their difference.
constexpr double kLogitTensorsAtPeak = 9;
/// Kept per distilled position until backward: the student's logits (BiLD's gather saves its
/// input) and the fused KL/CE gradient.
constexpr double kLogitTensorsKept = 2;
/// Per position, the batch and the loss's per-position vectors: inputs and targets (int64),
/// three float masks, then targets, validity, three masks, three row weights (float32) and the
/// selected positions (int64) in distillationLoss.
constexpr double kBatchBytesPerPosition = 2 * 8 + 3 * 4 + 8 + 4 * 8 + 8;
/// AdamW's denominator (exp_avg_sq.sqrt() / bias correction) makes two temporaries the size of
/// the parameter being stepped.
constexpr double kAdamTemporaries = 2;

double bytesOf(DType t) { return double(dtypeSize(t)); }

/// The model's sizes and the run's shape, in doubles (7B counts overflow nothing here).
struct Dims {
    double L, D, Q, KVd, I, V, H, d, G;
    double B, T, N, S;  ///< N = B*T tokens, S = B*H*T*T attention scores per layer
    double e;           ///< compute dtype bytes
    double w;           ///< RMSNorm, softmax and logits width: float64 in float64, else float32
    double stored;      ///< bytes of the checkpoint's stored dtype
};

/// What requires a gradient besides k/v, the merged heads and the gates (every scope).
struct Trained {
    bool qo = false, mlp = false, norms = false, embeddings = false, head = false;
};

Trained trainedIn(TrainScope scope) {
    Trained t;
    t.qo = isTrainedIn(scope, "q_proj");
    t.mlp = isTrainedIn(scope, "gate_proj");
    t.norms = isTrainedIn(scope, "input_layernorm");
    t.embeddings = scope == TrainScope::All;
    t.head = scope == TrainScope::All;  // when tied, the embeddings themselves
    return t;
}

/// Bytes autograd keeps for one decoder layer run with grad (see the header's table).
double layerSaved(const Dims& m, const Trained& t, bool inputGrad) {
    const bool normedGrad = inputGrad || t.norms;
    double perToken = 0.0;
    perToken += inputGrad ? 2 * m.w * m.D : 0.0;  // RMSNorm: float input and its square
    perToken += t.norms ? m.e * m.D : 0.0;        // normalised input, for the gain's gradient
    perToken += m.e * m.D;                        // normed input, for k_proj/v_proj
    perToken += m.e * m.Q;                        // q as copied for the scores (k's gradient)
    perToken += normedGrad || t.qo ? m.e * m.KVd : 0.0;       // k as copied (q's gradient)
    perToken += m.e * m.KVd;                                  // v as copied for probs @ v
    perToken += t.qo ? m.e * m.Q : 0.0;                       // attention output, for o_proj
    perToken += 2 * m.w * m.D + (t.norms ? m.e * m.D : 0.0);  // post-attention RMSNorm
    perToken += t.mlp ? m.e * m.D : 0.0;                      // its output, for gate/up_proj
    perToken += 3 * m.e * m.I;            // gate_proj output, SiLU output, up_proj output
    perToken += t.mlp ? m.e * m.I : 0.0;  // SiLU * up, for down_proj
    const double perScore = m.w + (m.e != m.w ? m.e : 0.0);  // float probs + compute copy
    const double tables = kMaskBytes * m.T * m.T + 2 * m.T * m.d * m.e;  // mask, cos, sin
    return m.N * perToken + m.S * perScore + tables;
}

/// The final RMSNorm's saved tensors and the student's hidden states the trainer holds.
double finalNormAndHidden(const Dims& m, const Trained& t) {
    return m.N * (2 * m.w * m.D + (t.norms ? m.e * m.D : 0.0) + m.e * m.D);
}

/// Peak of one decoder layer's forward without grad (the teacher's, or a checkpointed layer's),
/// its input included: the largest of the softmax (scores, their float copy, float probs and
/// their compute copy), probs @ v (scores, probs, v's copy, the output) and the MLP (input,
/// residual, normed input, four [N, I] temporaries, output, sum).
double noGradLayerPeak(const Dims& m) {
    const double qkv = 2 * m.e * m.D + m.e * m.Q + 2 * m.e * m.KVd;  // x, normed, q, k, v
    const double widen = m.e != m.w;
    const double softmax = m.N * qkv + m.S * (m.e + widen * m.w + m.w + widen * m.e);
    const double probsV = m.N * (qkv + m.e * m.KVd + m.e * m.Q) + m.S * (m.e + (widen ? m.e : m.w));
    const double mlp = m.N * (5 * m.e * m.D + 4 * m.e * m.I);
    return std::max({softmax, probsV, mlp}) + kMaskBytes * m.T * m.T;
}

/// Temporaries of a layer's forward with grad that autograd does not keep: the scores and their
/// float copy at the softmax.
double gradForwardUnsaved(const Dims& m) { return m.S * (m.e + (m.e != m.w ? m.w : 0.0)); }

/// A layer's backward beyond its saved tensors: the float gradient of the probabilities and the
/// softmax's gradient, or the MLP's four [N, I] gradients, plus the incoming gradient.
double layerBackwardWorking(const Dims& m) {
    const double attention = 2 * m.w * m.S + 2 * m.N * m.e * m.Q;
    const double mlp = 4 * m.N * m.e * m.I;
    return std::max(attention, mlp) + m.N * m.e * m.D;
}

/// Distillation over all N positions (text: every mask is 1) in chunks.
double distillationPeak(const Dims& m, const TrainingShape& s, const Trained& t) {
    const double positions = m.N;
    const double chunk =
        s.chunkPositions > 0 ? std::min(double(s.chunkPositions), positions) : positions;
    const double chunks = std::ceil(positions / chunk);
    const double last = positions - (chunks - 1) * chunk;
    const double k = std::min(double(s.bildTopK), m.V);
    const double pairs = k * (k - 1) / 2;
    // Per kept position: logits and gradient, for each BiLD term the log-softmax over the pair
    // differences and the teacher's exp (rowKl's product), the top-k indices; the selected
    // hidden state when the LM head trains.
    const double keptPerPosition = kLogitTensorsKept * m.V * m.w + 2 * 2 * pairs * m.w +
                                   2 * k * kTokenBytes + (t.head ? m.D * m.w : 0.0);
    const double lastChunk = kLogitTensorsAtPeak * last * m.V * m.w + 2 * last * m.D * m.w;
    // LM heads widened to the logits' dtype (student: kept for backward; teacher), and the
    // trainer's compute-dtype cast of a trained float32 head.
    const double heads = (m.e != m.w ? 2 * m.V * m.D * m.w : 0.0) +
                         (t.head && m.e != kFloat32 ? m.V * m.D * m.e : 0.0);
    return (positions - last) * keptPerPosition + lastChunk + heads +
           positions * kBatchBytesPerPosition;
}

double flopsPerMicroBatch(const Dims& m, const Trained& t, bool checkpoint) {
    const double layerWeights = 2 * m.D * m.Q + 2 * m.D * m.KVd + 3 * m.D * m.I;
    const double trainedLayerWeights =
        2 * m.D * m.KVd + (t.qo ? 2 * m.D * m.Q : 0.0) + (t.mlp ? 3 * m.D * m.I : 0.0);
    const double attention = 4 * m.S * m.d;  // scores and probs @ v, 2*S*d each
    const double layers = m.L * (2 * m.N * layerWeights + attention);
    const double head = 2 * m.N * m.D * m.V;
    const double forward = layers + head;
    const double backward =
        layers + m.L * (2 * m.N * trainedLayerWeights + attention) + head + (t.head ? head : 0.0);
    return forward + (checkpoint ? layers : 0.0) + backward + forward;
}

void validate(const ModelConfig& c, const TrainingShape& s) {
    auto require = [](bool ok, const std::string& message) {
        if (!ok) throw InputError(message);
    };
    require(c.numLayers >= 1 && c.numHeads >= 1 && c.headDim >= 1 && c.hiddenSize >= 1 &&
                c.vocabSize >= 1 && c.intermediateSize >= 1,
            "the model config has an empty dimension");
    require(c.isMha(), "the conversion training starts from an MHA model; this one has " +
                           std::to_string(c.numKvHeads) + " KV heads");
    require(s.groups >= 1 && c.numHeads % s.groups == 0,
            "the number of KV heads (" + std::to_string(s.groups) +
                ") must divide the number of heads (" + std::to_string(c.numHeads) + ")");
    require(s.batchSize >= 1 && s.seqLen >= 1 && s.gradAccumulation >= 1 && s.steps >= 1 &&
                s.worldSize >= 1,
            "batch, sequence length, accumulation, steps and world size must be >= 1");
}

Dims dimsOf(const ModelConfig& c, const TrainingShape& s) {
    Dims m{};
    m.L = double(c.numLayers);
    m.D = double(c.hiddenSize);
    m.Q = double(c.qDim());
    m.KVd = double(c.kvDim());
    m.I = double(c.intermediateSize);
    m.V = double(c.vocabSize);
    m.H = double(c.numHeads);
    m.d = double(c.headDim);
    m.G = double(s.groups);
    m.B = double(s.batchSize);
    m.T = double(s.seqLen);
    m.N = m.B * m.T;
    m.S = m.B * m.H * m.T * m.T;
    m.e = bytesOf(s.compute);
    m.w = s.compute == DType::F64 ? 8.0 : kFloat32;
    m.stored = bytesOf(c.dtype);
    return m;
}

struct Counts {
    double all = 0.0;             ///< the model's parameters
    double kv = 0.0;              ///< every layer's k_proj and v_proj
    double trainedWeights = 0.0;  ///< model weights in the train scope
    double trainable = 0.0;       ///< + merged heads + gates
};

Counts countsOf(const ModelConfig& c, const TrainingShape& s, const Dims& m) {
    Counts n;
    n.all = double(c.parameterCount());
    n.kv = 2 * m.L * m.KVd * m.D;
    const double qo = 2 * m.L * m.Q * m.D;
    n.trainedWeights = s.scope == TrainScope::All         ? n.all
                       : s.scope == TrainScope::Attention ? n.kv + qo
                       : s.scope == TrainScope::KeyValue  ? n.kv
                                                          : 0.0;
    const double merged = 2 * m.L * m.G * m.d * m.D + (s.refitsQueries ? 2 * m.L * m.Q * m.D : 0.0);
    const double gates = m.L * m.H;
    n.trainable = n.trainedWeights + merged + gates;
    return n;
}

/// The state held throughout the run; on a GPU the loaded checkpoint and the tokens go to
/// `host`.
std::vector<MemoryItem> heldState(const ModelConfig& c, const TrainingShape& s, const Dims& m,
                                  const Trained& t, const Counts& n,
                                  std::vector<MemoryItem>& host) {
    const bool shared = s.cpu && c.dtype == s.compute;  // Tensor::to(own dtype) is no copy
    std::vector<MemoryItem> state;
    (s.cpu ? state : host)
        .push_back({"loaded checkpoint", n.all * m.stored * (s.separateTeacher ? 2 : 1),
                    std::string(s.separateTeacher ? "student and teacher, " : "") + "stored as " +
                        torchDtypeName(c.dtype) + ", kept for the teacher",
                    MemoryCategory::Weights});
    if (s.datasetTokens > 0)
        (s.cpu ? state : host)
            .push_back({"training tokens", double(s.datasetTokens) * kTokenBytes, "int64 ids",
                        MemoryCategory::Weights});
    state.push_back(
        {"frozen weights", shared ? 0.0 : (n.all - n.trainedWeights) * m.e,
         shared ? "shares the loaded checkpoint's storage" : "in " + torchDtypeName(s.compute),
         MemoryCategory::Weights});
    state.push_back({"trainable masters", n.trainable * kFloat32,
                     "float32: trained weights, merged heads, gates", MemoryCategory::Weights});
    state.push_back({"gradients", n.trainable * kFloat32, "float32", MemoryCategory::Optimizer});
    const double shards = s.shardOptimizer ? double(s.worldSize) : 1.0;
    state.push_back({"AdamW state", kAdamMoments * n.trainable * kFloat32 / shards,
                     s.shardOptimizer
                         ? "2 x float32, split across " + std::to_string(s.worldSize) + " ranks"
                         : "2 x float32",
                     MemoryCategory::Optimizer});
    const double teacher = s.separateTeacher ? n.all : n.trainedWeights;
    state.push_back({"teacher", shared ? 0.0 : teacher * m.e,
                     s.separateTeacher ? "a whole second model"
                     : shared          ? "shares the loaded checkpoint's storage"
                                       : "original values of the trained weights",
                     MemoryCategory::Teacher});
    // Embeddings are looked up (no copy kept) and the LM head's casts count with the logits.
    const double embeddings = t.embeddings ? m.V * m.D * (c.tieWordEmbeddings ? 1 : 2) : 0.0;
    const double copies =
        m.e != kFloat32 ? std::max(0.0, n.trainedWeights - n.kv - embeddings) * m.e : 0.0;
    state.push_back({"compute copies", copies, "trained weights other than k/v, cast",
                     MemoryCategory::Weights});
    return state;
}

struct Phase {
    std::string name;
    std::vector<MemoryItem> items;  ///< on top of the held state
    double total() const {
        double sum = 0.0;
        for (const MemoryItem& item : items) sum += item.bytes;
        return sum;
    }
};

/// What each phase of an update adds to the held state at its own peak.
std::vector<Phase> updatePhases(const ModelConfig& c, const TrainingShape& s, const Dims& m,
                                const Trained& t, const Counts& n) {
    double kept = finalNormAndHidden(m, t);
    if (s.checkpointActivations)
        kept += m.L * m.N * m.e * m.D;  // each layer's input
    else
        for (std::int64_t l = 0; l < c.numLayers; ++l)
            kept += layerSaved(m, t, l > 0 || t.embeddings);
    const double blended = m.KVd + (s.refitsQueries ? m.Q : 0.0);  // rows per projection pair
    const MemoryItem gated{s.refitsQueries ? "gated Q/K/V/O weights" : "gated K/V weights",
                           m.L * 2 * (kFloat32 + m.e) * blended * m.D,
                           "per layer: spread merged heads (float32) + mixed weights"};
    const MemoryItem keptItem{
        "kept activations", kept,
        s.checkpointActivations ? "layer inputs, final norm" : "every layer's saved tensors"};
    const MemoryItem teacherHidden{"teacher hidden states", m.N * m.e * m.D,
                                   "its final-norm output"};
    // DecoderModel::castTo copies the float32 k/v masters for the student's forward, though the
    // gated weights replace them.
    const double kvCasts = m.e != kFloat32 ? n.kv * m.e : 0.0;

    std::vector<Phase> phases;
    phases.push_back(
        {"student forward",
         {gated,
          {"k/v casts", kvCasts, "made for the forward"},
          keptItem,
          {"working set", s.checkpointActivations ? noGradLayerPeak(m) : gradForwardUnsaved(m),
           "one layer's forward"}}});
    phases.push_back(
        {"teacher forward",
         {gated, keptItem, {"working set", noGradLayerPeak(m), "one teacher layer's forward"}}});
    phases.push_back({"distillation",
                      {gated,
                       keptItem,
                       teacherHidden,
                       {"working set", distillationPeak(m, s, t), "logits chunks"}}});
    double backward = layerBackwardWorking(m);
    if (s.checkpointActivations) {
        // The last layer recomputed with grad (its input is already kept), then differentiated.
        const double recomputed = layerSaved(m, t, true) - (m.e == m.w ? m.N * m.e * m.D : 0.0);
        backward = recomputed + std::max(gradForwardUnsaved(m), backward);
    }
    phases.push_back(
        {"layer backward",
         {gated,
          keptItem,
          teacherHidden,
          {"working set", backward,
           s.checkpointActivations ? "a layer's recompute and backward" : "a layer's backward"}}});
    const double largestTrained =
        std::max({m.G * m.d * m.D, n.trainedWeights > 0 ? m.KVd * m.D : 0.0, t.qo ? m.Q * m.D : 0.0,
                  t.mlp ? m.I * m.D : 0.0, t.embeddings ? m.V * m.D : 0.0});
    phases.push_back(
        {"optimizer step",
         {{"working set", kAdamTemporaries * largestTrained * kFloat32, "AdamW temporaries"}}});
    if (s.worldSize > 1 && s.cpu)
        phases.push_back({"gradient all-reduce",
                          {{"working set", n.trainable * kFloat32, "bucketed gradient copies"}}});
    return phases;
}

}  // namespace

double TrainingPlan::totalBytes() const {
    double sum = 0.0;
    for (const MemoryItem& item : memory) sum += item.bytes;
    return sum;
}

double TrainingPlan::hostBytes() const {
    double sum = 0.0;
    for (const MemoryItem& item : hostMemory) sum += item.bytes;
    return sum;
}

TrainingPlan planTraining(const ModelConfig& c, const TrainingShape& s,
                          double effectiveFlopsPerSecond) {
    validate(c, s);
    const Dims m = dimsOf(c, s);
    const Trained t = trainedIn(s.scope);
    const Counts n = countsOf(c, s, m);
    TrainingPlan plan;
    plan.trainableParameters = std::llround(n.trainable);
    plan.frozenParameters = std::llround(n.all - n.trainedWeights);

    plan.memory = heldState(c, s, m, t, n, plan.hostMemory);
    const double held = plan.totalBytes();
    const std::vector<Phase> phases = updatePhases(c, s, m, t, n);
    const Phase* peak = &phases.front();
    for (const Phase& p : phases) {
        plan.phases.push_back({p.name, held + p.total(), ""});
        if (p.total() > peak->total()) peak = &p;
    }
    plan.peakPhase = peak->name;
    for (const MemoryItem& item : peak->items) plan.memory.push_back(item);

    plan.flopsPerUpdate =
        double(s.gradAccumulation) * flopsPerMicroBatch(m, t, s.checkpointActivations);
    plan.tokensPerUpdate = m.N * double(s.gradAccumulation) * double(s.worldSize);
    if (effectiveFlopsPerSecond > 0.0) {
        plan.secondsPerUpdate = plan.flopsPerUpdate / effectiveFlopsPerSecond;
        plan.totalSeconds = plan.secondsPerUpdate * double(s.steps);
    }
    return plan;
}

const char* memoryCategoryName(MemoryCategory category) {
    switch (category) {
        case MemoryCategory::Weights:
            return "weights";
        case MemoryCategory::Optimizer:
            return "optimizer";
        case MemoryCategory::Teacher:
            return "teacher";
        case MemoryCategory::Activations:
            return "activations";
    }
    return "";
}

}  // namespace gqa
