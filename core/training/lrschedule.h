// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The learning-rate schedule of pretraining: linear warmup, then cosine decay (as nanoGPT and the
// Llama papers use).
//
//   lr(s) = peak * s / W                                        for 0 <= s < W
//   lr(s) = min + (peak - min) * (1 + cos(pi * (s - W) / (N - W))) / 2   for W <= s <= N
//   lr(s) = min                                                  for s > N
//
// with s = step, W = warmupSteps, N = totalSteps. So lr(0) = 0, lr(W) = peak, lr(N) = min, and
// halfway through the decay lr = (peak + min) / 2. W = 0 means no warmup; N <= W means the
// schedule stays at peak after warmup. The trainer asks for s = the 1-based number of the update
// being made (1..N), so the first update already moves and the last one runs at min.

#include <cstdint>

namespace gqa {

double warmupCosineLr(std::int64_t step, std::int64_t warmupSteps, std::int64_t totalSteps,
                      double peakLr, double minLr);

}  // namespace gqa
