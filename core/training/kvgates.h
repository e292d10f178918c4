// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Learned KV-head gates ("L0 masks") of the conversion training (method §6.1-§6.4).
//
// Every original KV head h of every layer has a gate z in [0, 1]. The attention mixes the
// original K/V projection of the head with the merged one of its group,
// W_eff = z * W_orig + (1 - z) * W_merged, so z = 1 everywhere is the aligned MHA model and
// z = 0 everywhere is the GQA model. Training starts with the gates open and drives them to 0
// along a target sparsity t(n) = min(1, n / W) (n = optimiser update, W = warmup updates). From
// update P on the gates are exactly 0 (deterministic) and the regulariser is off, so the last
// updates fine-tune the GQA model itself.
//
// Two schemes parametrise a gate:
//
// clang-format off
// |                | Reference (the paper's code)     | HardConcrete (Louizos et al. 2018)  |
// |----------------|----------------------------------|-------------------------------------|
// | parameter      | z_loga = lambda * alpha_s,       | log_alpha in [-10, 10]              |
// |                | lambda in [-8, 8], alpha_s 1e-3  |                                     |
// | initial gates  | lambda ~ N(2, 0.1): z ~ 0.999    | log_alpha = 5: 97 % of samples = 1  |
// | sample noise   | logit(eps), eps ~ U(0.4, 0.6),   | logit(u), u ~ U(0, 1), divided by   |
// |                | not divided by T: almost         | beta = 2/3: a really stochastic     |
// |                | deterministic                    | gate                                |
// | z from sample  | hardtanh of a 1.005-stretched    | clamp of the sigmoid stretched to   |
// |                | sigmoid, straight-through grad   | (-0.1, 1.1), grad 0 where clamped   |
// | sparsity       | fixed penalty e + (e + 1e-6)^2,  | lambda1 (s - t) + lambda2 (s - t)^2 |
// | pressure       | e = |s - t|, plus heuristics     | with learnt multipliers (gradient   |
// |                | that pull the logits onto the    | ascent), no heuristics              |
// |                | schedule every update            |                                     |
// |                | (method §6.4)                    |                                     |
// | behaviour      | tracks t(n) closely by           | tracks t(n) as fast as the          |
// |                | construction                     | multipliers grow; can lag behind    |
// clang-format on
//
// Choose Reference to reproduce the paper; HardConcrete is the textbook estimator (CoFi,
// Sheared-LLaMA), useful to compare against. Both end in the same GQA model after P.
//
// The Reference scheme reproduces the paper's code [code:l0_module.py, callbacks.py]:
//   lambda = clamp(z_loga, -8 alpha_s, 8 alpha_s) / alpha_s   (clamped in place before each use)
//   sample:  y = sigmoid(logit(eps) + lambda / T), eps ~ U(0.4, 0.6), T = 1/3
//            z = hardtanh((y - 0.5) * 1.005 + 0.5, 0, 1), backward passes clamp(grad, -1, 1)
//   density: p = 1 - clamp(sigmoid(-(c T + lambda / T)), 1e-6, 1 - 1e-6), c = ln(0.995 / 0.005)
//   sparsity s = 1 - mean(p) over all layers * heads gates (one scalar)
//   regulariser: e + (e + 1e-6)^2, e = |s - t|
//   beforeOptimizerStep (PruneCallback.on_step_begin, method §6.4a): constrain_sparsity, then the
//     snapshot theta_prev = z_loga; afterOptimizerStep (on_step_end, §6.4b):
//     z_loga <- a theta_prev + (1 - a) z_loga, a = min(1, max(b, |t - s|)),
//     b = max(0.002, min(1, n / P)^5 / 2), s = the expected sparsity at theta_prev (what this
//     update's regulariser measured).
// Both hooks act only while the gates train (1 <= n <= P), as the original's callbacks, which
// return early once the L0 module has left training mode. At n = 1 the original has measured no
// sparsity yet and constrain_sparsity does nothing; so does beforeOptimizerStep(1, ...).
//
// Conventions: `step` is the 1-based number of the optimiser update being made (1..totalSteps),
// the same index in every call. Gate tensors are [layers, heads], head h of a layer belonging to
// group h / groupSize (the searched, permuted order). Noise comes from a caller-owned CPU
// generator, so a run is a function of its seeds whatever the device.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <torch/torch.h>

#include "training/gatescheme.h"

namespace gqa {

struct GateSettings {
    GateScheme scheme = GateScheme::Reference;
    std::int64_t layers = 0, heads = 0;  ///< one gate per original KV head: [layers, heads]
    std::int64_t totalSteps = 0;         ///< optimiser updates of the run
    /// W = int(totalSteps * warmupRatio): the target sparsity ramps 0 -> 1 over W updates
    /// (method §6.3, --lagrangian_warmup_ratio 0.3 in the paper's scripts).
    double warmupRatio = 0.3;
    /// P = int(totalSteps * pruneRatio): after update P, z = 0 deterministically and no
    /// regulariser (method §6.3/§6.4, --prune_step_ratio 0.8).
    double pruneRatio = 0.8;
    /// Seed of the CPU generator that draws the initial gate parameters (the Reference scheme's
    /// z_loga ~ N(6 T alpha_s, alpha_s / 10)).
    std::uint64_t seed = 0;

    // Reference scheme (method §6.2). The fixed constants of the original (noise 0.1, stretch
    // 1.005, offset 0.995, clamp +-8 alpha_s, constrain range +-10 alpha_s T) live in
    // kvgates.cpp.
    double referenceAlpha = 1e-3;             ///< alpha_s = --alpha (1e-3 in the scripts)
    double referenceTemperature = 1.0 / 3.0;  ///< T = --lag_temperature

    // Hard-concrete (beta = 2/3, gamma = -0.1, zeta = 1.1 as Louizos et al., CoFi and
    // Sheared-LLaMA). CoFi starts from droprate_init 0.5, log_alpha = log(1-p) - log(p) = 0,
    // a half-open gate; the conversion must start from the MHA model, so the gates start nearly
    // open: at log_alpha = 5 a sample is exactly 1 with probability 1 - sigmoid(beta *
    // logit(11/12) - 5) = 0.968 and the expected density is sigmoid(5 - beta ln(1/11)) = 0.9986.
    double hardConcreteInitLogAlpha = 5.0;
};

/// The gates of one conversion run; create() picks the scheme's implementation.
class KvGates {
public:
    /// Validates the settings (InputError) and initialises the gates on `device`.
    static std::unique_ptr<KvGates> create(const GateSettings& settings, torch::Device device);
    virtual ~KvGates() = default;

    const GateSettings& settings() const { return m_settings; }
    std::int64_t warmupSteps() const { return m_warmupSteps; }  ///< W
    std::int64_t pruneSteps() const { return m_pruneSteps; }    ///< P
    /// Whether update `step` still trains the gates (1 <= step <= P): stochastic samples,
    /// regulariser, hooks.
    bool gatesTrain(std::int64_t step) const { return step >= 1 && step <= m_pruneSteps; }

    /// Gate logits the optimiser trains (float32 leaves, requires_grad): {z_loga} or {log_alpha}.
    virtual std::vector<torch::Tensor> gateParameters() = 0;
    /// Lagrange multipliers (hard-concrete: {lambda1, lambda2}; reference: empty). The trainer
    /// puts them in their own AdamW group with a positive learning rate and minimises the total
    /// loss; the regulariser reverses their gradient (it uses 2 l.detach() - l, whose value is l
    /// and whose gradient is negated), so that descent maximises over them.
    virtual std::vector<torch::Tensor> multiplierParameters() = 0;

    /// Gate values z [layers, heads] in [0, 1] for the forward pass of update `step`. While
    /// gatesTrain(step) and `training`: a stochastic sample (noise from the CPU `generator`)
    /// with gradient to the gate parameters; otherwise exact zeros (the GQA model) without grad.
    /// Float32 on the gates' device.
    virtual torch::Tensor sample(std::int64_t step, bool training, torch::Generator& generator) = 0;

    /// Expected density p per gate [layers, heads] (probability of a non-zero gate), with grad.
    virtual torch::Tensor expectedDensity() = 0;
    /// Expected sparsity 1 - mean(p), a scalar with grad.
    torch::Tensor expectedSparsity();
    /// Target sparsity t(step) = min(1, step / W) (method §6.3), 0 for step <= 0; 1 when W == 0.
    double targetSparsity(std::int64_t step) const;

    /// The sparsity regulariser for update `step`: a scalar with grad while gatesTrain(step),
    /// a plain 0 (no graph) afterwards. Reference: e + (e + 1e-6)^2 with e = |s - t|;
    /// hard-concrete: lambda1 (s - t) + lambda2 (s - t)^2.
    virtual torch::Tensor regularizer(std::int64_t step) = 0;

    /// Hooks around update `step`. Call beforeOptimizerStep at the start of the update, before
    /// its forward passes (the original's on_step_begin), and afterOptimizerStep right after
    /// optimizer.step(). Reference: constrain_sparsity and the theta_prev snapshot before, the
    /// damped update after (method §6.4). Hard-concrete: nothing before, clamp of log_alpha to
    /// [-10, 10] after. No-ops unless gatesTrain(step). `lastSparsity` = the expected sparsity
    /// the regulariser measured at update step - 1 (unused at step 1).
    virtual void beforeOptimizerStep(std::int64_t step, double lastSparsity) = 0;
    virtual void afterOptimizerStep(std::int64_t step) = 0;

    /// Deterministic gate values for display, [layers, heads], CPU float64: the reference
    /// scheme's hardtanh of the stretched sigmoid(lambda / T) (a sample with eps = 0.5);
    /// hard-concrete's clamp(sigmoid(log_alpha) (zeta - gamma) + gamma, 0, 1).
    virtual torch::Tensor displayValues() = 0;
    /// Named scalars for progress reports: {"lambda1", v}, {"lambda2", v}; empty for reference.
    virtual std::vector<std::pair<std::string, double>> multiplierValues() = 0;

    /// Everything to checkpoint, by name, as CPU float32 copies. Reference: "z_loga",
    /// "theta_prev" [layers, heads]; hard-concrete: "log_alpha" [layers, heads], "lambda1",
    /// "lambda2" (0-d).
    virtual std::map<std::string, torch::Tensor> state() const = 0;
    /// Restores state(); InputError for a missing or unknown name or a wrong shape.
    virtual void loadState(const std::map<std::string, torch::Tensor>& state) = 0;

protected:
    explicit KvGates(const GateSettings& settings);

    GateSettings m_settings;
    std::int64_t m_warmupSteps = 0;
    std::int64_t m_pruneSteps = 0;
};

}  // namespace gqa
