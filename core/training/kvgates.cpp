// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/kvgates.h"

#include "base/metrics.h"

#include <algorithm>
#include <cmath>
#include <sstream>

#include "base/error.h"

namespace gqa {
namespace {

// Reference scheme constants [code:l0_module.py Mask.__init__, method §6.2].
constexpr double kReferenceNoise = 0.1;             // eps ~ U(0.5 - noise, 0.5 + noise)
constexpr double kReferenceStretch = 1.005;         // y' = (y - 0.5) * 1.005 + 0.5
constexpr double kReferenceOffsetGate = 0.995;      // c = ln(0.995 / 0.005), the "magic number"
constexpr double kReferenceCdfEpsilon = 1e-6;       // cdf_qz clamps to [1e-6, 1 - 1e-6]
constexpr double kReferenceInitLambda = 6.0;        // z_loga mean 6 T alpha_s: lambda / T = 6
constexpr double kReferenceInitStdOverAlpha = 0.1;  // z_loga std alpha_s / 10
constexpr double kReferenceClampLambda = 8.0;       // constrain_parameters: +-8 alpha_s
constexpr double kReferenceConstrainLambdaOverT = 10.0;  // constrain_sparsity: _min/_max
// The regulariser's l2 offset [code:l0_module.py lp_losses, epsilon].
constexpr double kRegularizerEpsilon = 1e-6;
// constrain_sparsity ratios [code:l0_module.py Mask.constrain_sparsity].
constexpr double kBaseRatioBeforeP = 0.999;
constexpr double kBaseRatioAtP = 0.8;
constexpr double kMinLeftRatio = 0.6;
// on_step_end damping floor [code:callbacks.py PruneCallback.on_step_end].
constexpr double kMinDamping = 0.002;

// Hard-concrete constants (Louizos et al. 2018; CoFi's l0_module.py).
constexpr double kHcBeta = 2.0 / 3.0;
constexpr double kHcGamma = -0.1;
constexpr double kHcZeta = 1.1;
constexpr double kHcUniformEpsilon = 1e-6;  // u ~ U(eps, 1 - eps), as CoFi
// log_alpha range; wider than CoFi's +-ln(100) = +-4.6, which cannot start a gate nearly open
// (at 5) nor close it fully: at -10 the density is sigmoid(-10 + beta ln 11) = 2.2e-4.
constexpr double kHcLogAlphaLimit = 10.0;

/// hardtanh(x, 0, 1) whose backward passes clamp(grad, -1, 1) everywhere [code:STEhradtanh].
struct StraightThroughHardtanh : torch::autograd::Function<StraightThroughHardtanh> {
    static torch::Tensor forward(torch::autograd::AutogradContext*, const torch::Tensor& x) {
        return torch::clamp(x, 0.0, 1.0);
    }
    static torch::autograd::variable_list backward(torch::autograd::AutogradContext*,
                                                   torch::autograd::variable_list grads) {
        return {grads[0].clamp(-1.0, 1.0)};
    }
};

torch::Tensor straightThroughHardtanh(const torch::Tensor& x) {
    return StraightThroughHardtanh::apply(x);
}

torch::Tensor floatLeaf(const torch::Tensor& cpuValues, torch::Device device) {
    return cpuValues.to(device, torch::kFloat32).detach().clone().requires_grad_(true);
}

torch::Tensor cpuCopy(const torch::Tensor& t) {
    return t.detach().to(torch::kCPU, torch::kFloat32).clone();
}

std::string shapeText(torch::IntArrayRef shape) {
    std::ostringstream out;
    out << "[";
    for (size_t i = 0; i < shape.size(); ++i) out << (i ? ", " : "") << shape[i];
    out << "]";
    return out.str();
}

/// The tensor `name` of `state`, checked against the expected names and shape.
torch::Tensor stateTensor(const std::map<std::string, torch::Tensor>& state,
                          const std::vector<std::string>& names, const std::string& name,
                          torch::IntArrayRef shape) {
    for (const auto& entry : state)
        if (std::find(names.begin(), names.end(), entry.first) == names.end())
            throw InputError("gate state: unexpected tensor '" + entry.first + "'");
    const auto it = state.find(name);
    if (it == state.end() || !it->second.defined())
        throw InputError("gate state: missing tensor '" + name + "'");
    if (it->second.sizes() != shape)
        throw InputError("gate state: '" + name + "' has shape " + shapeText(it->second.sizes()) +
                         ", expected " + shapeText(shape));
    return it->second;
}

/// Overwrites the values of a parameter in place (keeps its identity for the optimiser).
void assign(torch::Tensor& parameter, const torch::Tensor& values) {
    torch::NoGradGuard noGrad;
    parameter.data().copy_(values.to(parameter.device(), torch::kFloat32));
}

// ---------------------------------------------------------------------------------------------

class ReferenceGates final : public KvGates {
public:
    ReferenceGates(const GateSettings& s, torch::Device device)
        : KvGates(s),
          m_alpha(s.referenceAlpha),
          m_temperature(s.referenceTemperature),
          m_options(torch::TensorOptions().dtype(torch::kFloat32).device(device)) {
        auto generator = at::detail::createCPUGenerator(s.seed);
        const torch::Tensor init = torch::empty({s.layers, s.heads}, torch::kFloat32)
                                       .normal_(kReferenceInitLambda * m_temperature * m_alpha,
                                                kReferenceInitStdOverAlpha * m_alpha, generator);
        m_zLoga = floatLeaf(init, device);
        m_thetaPrev = m_zLoga.detach().clone();
    }

    std::vector<torch::Tensor> gateParameters() override { return {m_zLoga}; }
    std::vector<torch::Tensor> multiplierParameters() override { return {}; }

    torch::Tensor sample(std::int64_t step, bool training, torch::Generator& generator) override {
        if (!training || !gatesTrain(step)) return torch::zeros(m_zLoga.sizes(), m_options);
        clampInPlace();
        const torch::Tensor eps =
            torch::empty(m_zLoga.sizes(), torch::kFloat32)
                .uniform_(0.5 - kReferenceNoise, 0.5 + kReferenceNoise, generator)
                .to(m_zLoga.device());
        // The noise is not divided by T [code:sample_z].
        const torch::Tensor y =
            torch::sigmoid(torch::log(eps) - torch::log(1 - eps) + lambda() / m_temperature);
        return straightThroughHardtanh((y - 0.5) * kReferenceStretch + 0.5);
    }

    torch::Tensor expectedDensity() override {
        clampInPlace();
        return densityOf(lambda());
    }

    torch::Tensor regularizer(std::int64_t step) override {
        if (!gatesTrain(step)) return torch::zeros({}, m_options);
        const torch::Tensor e = (expectedSparsity() - targetSparsity(step)).abs();
        return e + (e + kRegularizerEpsilon).pow(2);
    }

    void beforeOptimizerStep(std::int64_t step, double lastSparsity) override {
        if (!gatesTrain(step)) return;
        if (step > 1) constrainSparsity(step, lastSparsity);
        m_thetaPrev = m_zLoga.detach().clone();
    }

    void afterOptimizerStep(std::int64_t step) override {
        if (!gatesTrain(step)) return;
        torch::NoGradGuard noGrad;
        // The sparsity this update's regulariser measured: that of the clamped snapshot.
        const torch::Tensor thetaLambda = clampedLambda(m_thetaPrev);
        const double measured = 1.0 - densityOf(thetaLambda).mean().item<double>();
        const double n = double(step), p = double(m_pruneSteps);
        const double b = std::max(kMinDamping, std::pow(std::min(1.0, n / p), 5) / 2.0);
        const double a = std::min(1.0, std::max(b, std::abs(targetSparsity(step) - measured)));
        torch::Tensor data = m_zLoga.data();
        data.copy_(m_thetaPrev * a + data * (1.0 - a));
    }

    torch::Tensor displayValues() override {
        torch::NoGradGuard noGrad;
        const torch::Tensor y = torch::sigmoid(clampedLambda(m_zLoga) / m_temperature);
        return torch::clamp((y - 0.5) * kReferenceStretch + 0.5, 0.0, 1.0)
            .to(torch::kCPU, torch::kFloat64);
    }

    std::vector<std::pair<std::string, double>> multiplierValues() override { return {}; }

    std::map<std::string, torch::Tensor> state() const override {
        return {{"z_loga", cpuCopy(m_zLoga)}, {"theta_prev", cpuCopy(m_thetaPrev)}};
    }

    void loadState(const std::map<std::string, torch::Tensor>& state) override {
        const std::vector<std::string> names{"z_loga", "theta_prev"};
        const torch::Tensor z = stateTensor(state, names, "z_loga", m_zLoga.sizes());
        const torch::Tensor theta = stateTensor(state, names, "theta_prev", m_zLoga.sizes());
        assign(m_zLoga, z);
        m_thetaPrev = theta.to(m_zLoga.device(), torch::kFloat32).detach().clone();
    }

private:
    /// lambda = z_loga / alpha_s (with grad).
    torch::Tensor lambda() const { return m_zLoga / m_alpha; }

    torch::Tensor clampedLambda(const torch::Tensor& zLoga) const {
        const double limit = kReferenceClampLambda * m_alpha;
        return zLoga.detach().clamp(-limit, limit) / m_alpha;
    }

    /// constrain_parameters: z_loga in [-8 alpha_s, 8 alpha_s], in place, before every use.
    void clampInPlace() {
        torch::NoGradGuard noGrad;
        const double limit = kReferenceClampLambda * m_alpha;
        m_zLoga.data().clamp_(-limit, limit);
    }

    /// p = 1 - cdf_qz = 1 - clamp(sigmoid(-c T - lambda / T), 1e-6, 1 - 1e-6).
    torch::Tensor densityOf(const torch::Tensor& lambda) const {
        const double c = std::log(kReferenceOffsetGate) - std::log(1.0 - kReferenceOffsetGate);
        const torch::Tensor cdf = torch::sigmoid(-c * m_temperature - lambda / m_temperature)
                                      .clamp(kReferenceCdfEpsilon, 1.0 - kReferenceCdfEpsilon);
        return 1 - cdf;
    }

    /// Method §6.4a: pulls the ceil(t M) lowest gate logits geometrically towards "closed"
    /// (-10 alpha_s T) when behind schedule, and the rest towards "open" (+10 alpha_s T).
    void constrainSparsity(std::int64_t step, double lastSparsity) {
        torch::NoGradGuard noGrad;
        torch::Tensor data = m_zLoga.data();
        torch::Tensor flat = data.reshape({-1}).clone();
        const std::int64_t m = flat.numel();
        const double low = -kReferenceConstrainLambdaOverT * m_alpha * m_temperature;
        const double high = kReferenceConstrainLambdaOverT * m_alpha * m_temperature;
        const double t = targetSparsity(step);
        const double n = double(step), p = double(m_pruneSteps);
        const double scale = std::exp(std::sqrt(n / p));
        const double base = step < m_pruneSteps ? kBaseRatioBeforeP : kBaseRatioAtP;
        const std::int64_t lk = std::min(std::int64_t(double(m) * t + 1.0), m);
        if (t > lastSparsity) {
            const double ratio =
                std::max(kMinLeftRatio, std::min(base, 1.0 - (t - lastSparsity) * scale));
            const torch::Tensor v = std::get<0>(flat.sort())[lk - 1];
            if ((v > low).item<bool>()) {
                const torch::Tensor pulled = (low + (flat - low) * ratio).clamp_min(low);
                flat = torch::where(flat <= v, pulled, flat);
            }
        }
        const double ratioRight = std::min(base, 1.0 + (t - lastSparsity) * scale);
        const std::int64_t rk = std::min(m, lk + 1);
        if (rk < m) {
            const torch::Tensor v = std::get<0>(flat.sort())[rk - 1];
            if ((v < high).item<bool>()) {
                const torch::Tensor pulled = (high + (flat - high) * ratioRight).clamp_max(high);
                flat = torch::where(flat >= v, pulled, flat);
            }
        }
        data.copy_(flat.view(data.sizes()));
    }

    double m_alpha;
    double m_temperature;
    torch::TensorOptions m_options;
    torch::Tensor m_zLoga;      ///< the trained leaf, [layers, heads]
    torch::Tensor m_thetaPrev;  ///< z_loga after the last constrain_sparsity, no grad
};

// ---------------------------------------------------------------------------------------------

class HardConcreteGates final : public KvGates {
public:
    HardConcreteGates(const GateSettings& s, torch::Device device)
        : KvGates(s), m_options(torch::TensorOptions().dtype(torch::kFloat32).device(device)) {
        m_logAlpha = floatLeaf(
            torch::full({s.layers, s.heads}, s.hardConcreteInitLogAlpha, torch::kFloat32), device);
        m_lambda1 = floatLeaf(torch::zeros({}, torch::kFloat32), device);
        m_lambda2 = floatLeaf(torch::zeros({}, torch::kFloat32), device);
    }

    std::vector<torch::Tensor> gateParameters() override { return {m_logAlpha}; }
    std::vector<torch::Tensor> multiplierParameters() override { return {m_lambda1, m_lambda2}; }

    torch::Tensor sample(std::int64_t step, bool training, torch::Generator& generator) override {
        if (!training || !gatesTrain(step)) return torch::zeros(m_logAlpha.sizes(), m_options);
        const torch::Tensor u = torch::empty(m_logAlpha.sizes(), torch::kFloat32)
                                    .uniform_(kHcUniformEpsilon, 1.0 - kHcUniformEpsilon, generator)
                                    .to(m_logAlpha.device());
        const torch::Tensor s =
            torch::sigmoid((torch::log(u) - torch::log(1 - u) + m_logAlpha) / kHcBeta);
        return torch::clamp(s * (kHcZeta - kHcGamma) + kHcGamma, 0.0, 1.0);
    }

    /// P(z > 0) = 1 - cdf(0) = sigmoid(log_alpha - beta ln(-gamma / zeta)).
    torch::Tensor expectedDensity() override {
        return torch::sigmoid(m_logAlpha - kHcBeta * std::log(-kHcGamma / kHcZeta));
    }

    torch::Tensor regularizer(std::int64_t step) override {
        if (!gatesTrain(step)) return torch::zeros({}, m_options);
        const torch::Tensor gap = expectedSparsity() - targetSparsity(step);
        // Gradient reversal: value lambda, gradient -d/dlambda, so descent maximises.
        const torch::Tensor l1 = 2 * m_lambda1.detach() - m_lambda1;
        const torch::Tensor l2 = 2 * m_lambda2.detach() - m_lambda2;
        return l1 * gap + l2 * gap.pow(2);
    }

    void beforeOptimizerStep(std::int64_t, double) override {}

    void afterOptimizerStep(std::int64_t step) override {
        if (!gatesTrain(step)) return;
        torch::NoGradGuard noGrad;
        m_logAlpha.data().clamp_(-kHcLogAlphaLimit, kHcLogAlphaLimit);
    }

    torch::Tensor displayValues() override {
        torch::NoGradGuard noGrad;
        return torch::clamp(torch::sigmoid(m_logAlpha) * (kHcZeta - kHcGamma) + kHcGamma, 0.0, 1.0)
            .to(torch::kCPU, torch::kFloat64);
    }

    std::vector<std::pair<std::string, double>> multiplierValues() override {
        return {{metricKey(Metric::Lambda1), m_lambda1.item<double>()},
                {metricKey(Metric::Lambda2), m_lambda2.item<double>()}};
    }

    std::map<std::string, torch::Tensor> state() const override {
        return {{"log_alpha", cpuCopy(m_logAlpha)},
                {"lambda1", cpuCopy(m_lambda1)},
                {"lambda2", cpuCopy(m_lambda2)}};
    }

    void loadState(const std::map<std::string, torch::Tensor>& state) override {
        const std::vector<std::string> names{"log_alpha", "lambda1", "lambda2"};
        const torch::Tensor logAlpha = stateTensor(state, names, "log_alpha", m_logAlpha.sizes());
        const torch::Tensor l1 = stateTensor(state, names, "lambda1", {});
        const torch::Tensor l2 = stateTensor(state, names, "lambda2", {});
        assign(m_logAlpha, logAlpha);
        assign(m_lambda1, l1);
        assign(m_lambda2, l2);
    }

private:
    torch::TensorOptions m_options;
    torch::Tensor m_logAlpha;  ///< [layers, heads]
    torch::Tensor m_lambda1;   ///< 0-d
    torch::Tensor m_lambda2;   ///< 0-d
};

}  // namespace

KvGates::KvGates(const GateSettings& settings)
    : m_settings(settings),
      m_warmupSteps(std::int64_t(double(settings.totalSteps) * settings.warmupRatio)),
      m_pruneSteps(std::int64_t(double(settings.totalSteps) * settings.pruneRatio)) {}

std::unique_ptr<KvGates> KvGates::create(const GateSettings& s, torch::Device device) {
    auto require = [](bool ok, const std::string& what) {
        if (!ok) throw InputError("gate settings: " + what);
    };
    require(s.layers > 0 && s.heads > 0, "layers and heads must be positive (got " +
                                             std::to_string(s.layers) + " x " +
                                             std::to_string(s.heads) + ")");
    require(s.totalSteps > 0, "totalSteps must be positive");
    require(std::isfinite(s.warmupRatio) && s.warmupRatio >= 0.0,
            "warmup ratio must be >= 0 (got " + std::to_string(s.warmupRatio) + ")");
    require(std::isfinite(s.pruneRatio) && s.pruneRatio >= 0.0 && s.pruneRatio <= 1.0,
            "prune ratio must be in [0, 1] (got " + std::to_string(s.pruneRatio) + ")");
    if (s.scheme == GateScheme::Reference) {
        require(std::isfinite(s.referenceAlpha) && s.referenceAlpha > 0.0,
                "reference alpha must be positive");
        require(std::isfinite(s.referenceTemperature) && s.referenceTemperature > 0.0,
                "reference temperature must be positive");
        return std::make_unique<ReferenceGates>(s, device);
    }
    require(std::isfinite(s.hardConcreteInitLogAlpha) &&
                std::abs(s.hardConcreteInitLogAlpha) <= kHcLogAlphaLimit,
            "hard-concrete initial log_alpha must be in [-10, 10]");
    return std::make_unique<HardConcreteGates>(s, device);
}

torch::Tensor KvGates::expectedSparsity() { return 1 - expectedDensity().mean(); }

double KvGates::targetSparsity(std::int64_t step) const {
    if (m_warmupSteps <= 0) return 1.0;
    if (step <= 0) return 0.0;
    return std::min(1.0, double(step) / double(m_warmupSteps));
}

}  // namespace gqa
