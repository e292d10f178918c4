// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/distillation.h"

#include <algorithm>
#include <string>

#include "base/error.h"

namespace gqa {

namespace {
namespace ag = torch::autograd;

/// Label of a position that predicts nothing (PyTorch's cross-entropy ignore_index, the
/// reference's label for padding).
constexpr std::int64_t kIgnoreIndex = -100;

/// Row KL(softmax(teacher) || softmax(student)) from log-probabilities [n, m] -> [n].
torch::Tensor rowKl(const torch::Tensor& teacherLogProbs, const torch::Tensor& studentLogProbs) {
    return (teacherLogProbs.exp() * (teacherLogProbs - studentLogProbs)).sum(-1);
}

/// The full-vocabulary terms of one chunk, fused so that autograd keeps one [n, V] tensor (the
/// gradient with respect to the student logits) instead of the log-softmax and the teacher
/// probabilities. With per-row weights a (KL) and c (CE) it returns
///   [ sum a*KL + c*CE,  sum klW*KL,  sum lmW*CE ]
/// and only element 0 carries a gradient: d/dz = a*(softmax(z) - p_teacher) + c*(softmax(z) -
/// onehot(target)).
struct FusedKlCe : public ag::Function<FusedKlCe> {
    static torch::Tensor forward(ag::AutogradContext* ctx, const torch::Tensor& student,
                                 const torch::Tensor& teacherLogProbs, const torch::Tensor& targets,
                                 const torch::Tensor& klWeight, const torch::Tensor& lmWeight,
                                 const torch::Tensor& klReport, const torch::Tensor& lmReport) {
        const torch::Tensor logProbs = torch::log_softmax(student, -1);
        const torch::Tensor kl = rowKl(teacherLogProbs, logProbs);
        const torch::Tensor target = targets.unsqueeze(1);
        const torch::Tensor ce = -logProbs.gather(1, target).squeeze(1);
        const torch::Tensor a = klWeight.unsqueeze(1), c = lmWeight.unsqueeze(1);
        torch::Tensor grad = (a + c) * logProbs.exp() - a * teacherLogProbs.exp();
        grad.scatter_add_(1, target, -c);
        ctx->saved_data["grad"] = grad;
        return torch::stack(
            {(klWeight * kl + lmWeight * ce).sum(), (klReport * kl).sum(), (lmReport * ce).sum()});
    }
    static ag::variable_list backward(ag::AutogradContext* ctx, ag::variable_list grads) {
        const torch::Tensor grad = ctx->saved_data["grad"].toTensor();
        return {grads[0][0] * grad, {}, {}, {}, {}, {}, {}};
    }
};

/// One logits-difference term per row: both models' logits at `indices` [n, k] divided by tau,
/// the pairwise differences (first[i], second[i]) and KL(teacher || student) over them.
torch::Tensor logitsDifferenceKl(const torch::Tensor& student, const torch::Tensor& teacher,
                                 const torch::Tensor& indices, const torch::Tensor& first,
                                 const torch::Tensor& second, double tau) {
    const torch::Tensor s = student.gather(1, indices) / tau;
    const torch::Tensor t = teacher.gather(1, indices) / tau;
    const torch::Tensor ds = s.index_select(1, first) - s.index_select(1, second);
    const torch::Tensor dt = t.index_select(1, first) - t.index_select(1, second);
    return rowKl(torch::log_softmax(dt, -1), torch::log_softmax(ds, -1));
}

void checkShapes(const torch::Tensor& studentHidden, const torch::Tensor& studentLmHead,
                 const torch::Tensor& teacherHidden, const torch::Tensor& teacherLmHead,
                 const DistillBatch& batch) {
    auto fail = [](const std::string& what) { throw Error("distillationLoss: " + what); };
    if (studentHidden.dim() != 3 || teacherHidden.dim() != 3)
        fail("hidden states must be [B, T, D]");
    if (studentHidden.size(0) != teacherHidden.size(0) ||
        studentHidden.size(1) != teacherHidden.size(1))
        fail("student and teacher hidden states cover different positions");
    if (studentLmHead.dim() != 2 || teacherLmHead.dim() != 2 ||
        studentLmHead.size(1) != studentHidden.size(2) ||
        teacherLmHead.size(1) != teacherHidden.size(2))
        fail("an LM head is not [V, D] for its hidden size");
    if (studentLmHead.size(0) != teacherLmHead.size(0))
        fail("student and teacher vocabularies differ (" + std::to_string(studentLmHead.size(0)) +
             " vs " + std::to_string(teacherLmHead.size(0)) + ")");
    const auto bt = studentHidden.sizes().slice(0, 2);
    for (const torch::Tensor* m : {&batch.targets, &batch.klMask, &batch.bildMask, &batch.lmMask})
        if (!m->defined() || m->sizes() != bt) fail("targets and masks must be [B, T]");
}
}  // namespace

std::int64_t DistillBatch::tokens() const {
    return targets.defined() ? (targets != kIgnoreIndex).sum().item<std::int64_t>() : 0;
}

DistillationLoss distillationLoss(const torch::Tensor& studentHidden,
                                  const torch::Tensor& studentLmHead,
                                  const torch::Tensor& teacherHidden,
                                  const torch::Tensor& teacherLmHead, const DistillBatch& batch,
                                  const DistillationSettings& settings) {
    checkShapes(studentHidden, studentLmHead, teacherHidden, teacherLmHead, batch);
    if (settings.bildTemperature <= 0.0) throw InputError("the BiLD temperature must be > 0");
    const std::int64_t vocab = studentLmHead.size(0);
    const std::int64_t k = std::min(settings.bildTopK, vocab);
    if (k < 2) throw InputError("BiLD needs a top-k of at least 2 logits");

    const std::int64_t B = studentHidden.size(0), T = studentHidden.size(1);
    const torch::Device device = studentHidden.device();
    const torch::Dtype dtype =
        studentHidden.scalar_type() == torch::kDouble ? torch::kDouble : torch::kFloat;
    const auto opts = torch::TensorOptions().device(device).dtype(dtype);

    // Per-position weights (flattened b*T + t) such that each term is sum(weight * rowValue).
    const torch::Tensor targets = batch.targets.to(device, torch::kLong).reshape({-1});
    const torch::Tensor valid = (targets != kIgnoreIndex).to(dtype);
    const torch::Tensor klMask = batch.klMask.to(device, dtype).reshape({-1});
    const torch::Tensor bildMask = batch.bildMask.to(device, dtype).reshape({-1});
    const torch::Tensor lmMask = batch.lmMask.to(device, dtype).reshape({-1}) * valid;
    auto normalised = [](const torch::Tensor& m) {
        const torch::Tensor total = m.sum();
        return torch::where(total > 0, m / total.clamp_min(1e-30), torch::zeros_like(m));
    };
    const torch::Tensor klRow = normalised(klMask), lmRow = normalised(lmMask);
    const torch::Tensor perSample = bildMask.reshape({B, T}).sum(1);  // [B]
    const torch::Tensor samplesWithBild = (perSample > 0).sum().to(dtype).clamp_min(1.0);
    const torch::Tensor bildRow =
        (bildMask.reshape({B, T}) / perSample.clamp_min(1e-30).unsqueeze(1)).reshape({-1}) /
        samplesWithBild;

    const torch::Tensor positions =
        ((klMask > 0) | (bildMask > 0) | (lmMask > 0)).nonzero().reshape({-1});
    const std::int64_t count = positions.size(0);
    const std::int64_t chunk =
        settings.chunkPositions > 0 ? settings.chunkPositions : std::max<std::int64_t>(count, 1);

    const torch::Tensor studentFlat = studentHidden.reshape({B * T, -1});
    const torch::Tensor studentHead = studentLmHead.to(dtype);
    torch::Tensor teacherFlat, teacherHead;
    {
        torch::NoGradGuard noGrad;
        teacherFlat = teacherHidden.detach().reshape({B * T, -1});
        teacherHead = teacherLmHead.detach().to(teacherHidden.device(), dtype);
    }
    const torch::Tensor pairs = torch::triu_indices(k, k, 1, torch::dtype(torch::kLong));
    const torch::Tensor first = pairs[0].to(device), second = pairs[1].to(device);

    const bool needsGrad = studentHidden.requires_grad() || studentLmHead.requires_grad();
    torch::Tensor total = torch::zeros({}, opts).requires_grad_(needsGrad);
    torch::Tensor kl = torch::zeros({}, opts), lm = torch::zeros({}, opts);
    torch::Tensor bild = torch::zeros({}, opts);
    for (std::int64_t start = 0; start < count; start += chunk) {
        const torch::Tensor index = positions.slice(0, start, start + chunk);
        const torch::Tensor student =
            torch::matmul(studentFlat.index_select(0, index).to(dtype), studentHead.t());
        torch::Tensor teacher, teacherLogProbs, teacherTop;
        {
            torch::NoGradGuard noGrad;
            teacher =
                torch::matmul(teacherFlat.index_select(0, index.to(teacherFlat.device())).to(dtype),
                              teacherHead.t())
                    .to(device);
            teacherLogProbs = torch::log_softmax(teacher, -1);
            teacherTop = std::get<1>(teacher.topk(k, -1));
        }
        const torch::Tensor fused =
            FusedKlCe::apply(student, teacherLogProbs, targets.index_select(0, index).clamp_min(0),
                             settings.klWeight * klRow.index_select(0, index),
                             settings.lmWeight * lmRow.index_select(0, index),
                             klRow.index_select(0, index), lmRow.index_select(0, index));
        const torch::Tensor studentTop = std::get<1>(student.detach().topk(k, -1));
        const torch::Tensor ld = logitsDifferenceKl(student, teacher, teacherTop, first, second,
                                                    settings.bildTemperature) +
                                 logitsDifferenceKl(student, teacher, studentTop, first, second,
                                                    settings.bildTemperature);
        const torch::Tensor bildChunk = (bildRow.index_select(0, index) * ld).sum();
        total = total + fused[0] + settings.bildWeight * bildChunk;
        kl = kl + fused[1].detach();
        lm = lm + fused[2].detach();
        bild = bild + bildChunk.detach();
    }
    return {total, kl, bild, lm};
}

}  // namespace gqa
