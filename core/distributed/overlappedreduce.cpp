// SPDX-License-Identifier: GPL-3.0-or-later
#include "distributed/overlappedreduce.h"

#include <numeric>
#include <string>

#include "base/error.h"

namespace gqa {

OverlappedReduce::OverlappedReduce(Communicator& communicator,
                                   std::vector<torch::Tensor> parameters,
                                   std::vector<std::int64_t> order, std::int64_t bucketBytes,
                                   std::vector<int> owners)
    : m_communicator(communicator),
      m_parameters(std::move(parameters)),
      m_owners(std::move(owners)) {
    const auto n = std::int64_t(m_parameters.size());
    if (order.empty()) {
        order.resize(std::size_t(n));
        std::iota(order.rbegin(), order.rend(), 0);
    }
    std::vector<bool> seen(std::size_t(n), false);
    if (std::int64_t(order.size()) != n)
        throw Error("the gradient bucket order does not list every parameter once");
    if (!m_owners.empty() && std::int64_t(m_owners.size()) != n)
        throw Error("the gradient owners do not cover every parameter");
    for (std::int64_t i : order) {
        if (i < 0 || i >= n || seen[std::size_t(i)])
            throw Error("the gradient bucket order does not list every parameter once");
        seen[std::size_t(i)] = true;
    }

    m_bucketOf.assign(std::size_t(n), -1);
    m_offsetOf.assign(std::size_t(n), -1);
    m_arrived.assign(std::size_t(n), false);
    for (std::int64_t i : order) {
        const torch::Tensor& p = m_parameters[std::size_t(i)];
        const int owner = m_owners.empty() ? -1 : m_owners[std::size_t(i)];
        const bool newBucket =
            m_buckets.empty() || m_buckets.back().owner != owner ||
            m_buckets.back().dtype != p.scalar_type() ||
            (m_buckets.back().elements + p.numel()) * std::int64_t(p.element_size()) > bucketBytes;
        if (newBucket) {
            m_buckets.emplace_back();
            m_buckets.back().owner = owner;
            m_buckets.back().dtype = p.scalar_type();
        }
        Bucket& b = m_buckets.back();
        m_bucketOf[std::size_t(i)] = std::int64_t(m_buckets.size()) - 1;
        m_offsetOf[std::size_t(i)] = b.elements;
        b.members.push_back(i);
        b.elements += p.numel();
    }
    for (Bucket& b : m_buckets) {
        b.flat = torch::zeros({b.elements},
                              torch::TensorOptions().dtype(b.dtype).device(communicator.device()));
        b.missing = std::int64_t(b.members.size());
    }
    for (std::int64_t i = 0; i < n; ++i)
        m_hooks.push_back(m_parameters[std::size_t(i)].register_hook(
            [this, i](const torch::Tensor& gradient) { arrived(i, gradient); }));
}

OverlappedReduce::~OverlappedReduce() {
    for (std::size_t i = 0; i < m_hooks.size(); ++i) m_parameters[i].remove_hook(m_hooks[i]);
    // Pending collectives wait in their destructors.
}

void OverlappedReduce::arrived(std::int64_t index, const torch::Tensor& gradient) {
    torch::NoGradGuard noGrad;
    if (m_arrived[std::size_t(index)])
        throw Error("parameter " + std::to_string(index) +
                    " received two gradients in one backward; the overlapped all-reduce cannot "
                    "be used for this model (train with --no-overlap-reduce)");
    const torch::Tensor& earlier = m_parameters[std::size_t(index)].grad();
    fill(index, earlier.defined() ? earlier + gradient : gradient);
    m_arrivalOrder.push_back(index);
    startReadyBuckets();
}

void OverlappedReduce::fill(std::int64_t index, const torch::Tensor& gradient) {
    Bucket& b = m_buckets[std::size_t(m_bucketOf[std::size_t(index)])];
    b.flat.narrow(0, m_offsetOf[std::size_t(index)], gradient.numel())
        .copy_(gradient.reshape({-1}));
    m_arrived[std::size_t(index)] = true;
    --b.missing;
}

void OverlappedReduce::startReadyBuckets() {
    while (m_nextToStart < m_buckets.size() && m_buckets[m_nextToStart].missing == 0) {
        Bucket& b = m_buckets[m_nextToStart++];
        b.pending = b.owner < 0 ? m_communicator.startAllReduceSum(b.flat)
                                : m_communicator.startReduceSum(b.flat, b.owner);
        if (!m_finishing) ++m_startedEarly;
    }
}

std::vector<std::int64_t> OverlappedReduce::finish() {
    torch::NoGradGuard noGrad;
    m_finishing = true;
    std::vector<std::int64_t> order = m_arrivalOrder;
    for (std::size_t i = 0; i < m_parameters.size(); ++i) {
        if (m_arrived[i]) continue;
        const torch::Tensor& p = m_parameters[i];
        fill(std::int64_t(i), p.grad().defined() ? p.grad() : torch::zeros_like(p));
        order.push_back(std::int64_t(i));
    }
    startReadyBuckets();
    for (Bucket& b : m_buckets) b.pending->wait();
    for (const Bucket& b : m_buckets)
        for (std::int64_t member : b.members) {
            const torch::Tensor& p = m_parameters[std::size_t(member)];
            if (b.owner >= 0 && b.owner != m_communicator.rank()) {
                p.mutable_grad().reset();  // a partial sum, not this rank's to use
                continue;
            }
            const torch::Tensor sum = b.flat.narrow(0, m_offsetOf[std::size_t(member)], p.numel())
                                          .view(p.sizes())
                                          .to(p.device());
            if (p.grad().defined())
                p.mutable_grad().copy_(sum);
            else
                p.mutable_grad() = sum.clone();
        }
    return order;
}

}  // namespace gqa
