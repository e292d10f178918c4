// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The gradient all-reduce of data-parallel training, overlapped with backward (PyTorch DDP's
// reducer, in small). Created just before the last micro-batch's backward of an update, it hooks
// every trainable parameter (Tensor::register_hook: called once per backward with the gradient
// about to be accumulated). Each arriving gradient, plus what earlier micro-batches accumulated,
// is copied into its bucket's flat buffer; a bucket whose parameters have all arrived starts its
// all-reduce at once, while backward goes on with the layers below. finish() starts the buckets
// of parameters that got no gradient (as zeros), waits, and writes the sums into the gradients.
//
// With ZeRO-1 (owners given) a bucket holds the parameters of one owner and is reduced onto it
// (the reduce-scatter); finish() then keeps the sums of the owned parameters and drops the rest.
//
// Buckets are started strictly in their order, so every rank issues the same collectives in the
// same order whatever order its gradients arrive in. The bucket order is a plan all ranks share:
// the reverse parameter order at first, then the order in which rank 0's gradients arrived
// (finish() returns this rank's; the trainer broadcasts rank 0's once), as DDP rebuilds its
// buckets after the first iteration.

#include <cstdint>
#include <memory>
#include <vector>

#include <torch/torch.h>

#include "distributed/communicator.h"

namespace gqa {

class OverlappedReduce {
public:
    /// PyTorch DDP's default bucket_cap_mb.
    static constexpr std::int64_t kDefaultBucketBytes = 25 * 1024 * 1024;

    /// `order`: the parameter indices in the order the buckets are filled (a permutation of
    /// 0..parameters.size()-1; empty: reverse parameter order). `owners`: per parameter, the rank
    /// its gradient is summed onto (ZeRO-1); empty: onto every rank. Every rank must pass the same.
    OverlappedReduce(Communicator& communicator, std::vector<torch::Tensor> parameters,
                     std::vector<std::int64_t> order = {},
                     std::int64_t bucketBytes = kDefaultBucketBytes, std::vector<int> owners = {});
    /// Removes the hooks and waits for collectives still in flight.
    ~OverlappedReduce();
    OverlappedReduce(const OverlappedReduce&) = delete;
    OverlappedReduce& operator=(const OverlappedReduce&) = delete;

    /// After backward: every parameter's gradient becomes the sum across ranks (with owners: the
    /// owned ones; the others' gradients are dropped). Returns the indices of the parameters in
    /// the order their gradients arrived (those without one last).
    std::vector<std::int64_t> finish();
    /// How many buckets started their all-reduce while backward was still running.
    int bucketsStartedEarly() const { return m_startedEarly; }
    int bucketCount() const { return int(m_buckets.size()); }

private:
    struct Bucket {
        std::vector<std::int64_t> members;  ///< parameter indices
        std::int64_t elements = 0;          ///< of all members together
        torch::ScalarType dtype = torch::kFloat32;
        torch::Tensor flat;  ///< on the communicator's device(), `dtype`
        std::int64_t missing = 0;
        int owner = -1;  ///< -1: all-reduce
        std::unique_ptr<PendingCollective> pending;
    };
    void arrived(std::int64_t index, const torch::Tensor& gradient);
    void fill(std::int64_t index, const torch::Tensor& gradient);
    void startReadyBuckets();

    Communicator& m_communicator;
    std::vector<torch::Tensor> m_parameters;
    std::vector<int> m_owners;
    std::vector<unsigned> m_hooks;
    std::vector<Bucket> m_buckets;
    std::vector<std::int64_t> m_bucketOf;  ///< per parameter
    std::vector<std::int64_t> m_offsetOf;  ///< per parameter: where it starts in its bucket
    std::vector<bool> m_arrived;
    std::vector<std::int64_t> m_arrivalOrder;
    std::size_t m_nextToStart = 0;
    int m_startedEarly = 0;
    bool m_finishing = false;
};

}  // namespace gqa
