// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Process-wide torch set-up and the parsing of device/dtype choices made by users.

#include <string>

#include <torch/torch.h>

namespace gqa {

/// Debian's torch starts with one intra-op thread: use every core (or $GQA_THREADS if set) for
/// work not tied to one model's size. Every stage that computes on a model then sizes the count
/// for that model (base/threadpolicy.h). Call once at start-up, before any torch work. Returns
/// the thread count in use.
int configureTorchThreads();

/// "cpu", "cuda", "cuda:N" or "auto" (CUDA when available, else CPU). InputError when CUDA is
/// asked for but not available, or the text is not a device.
torch::Device parseDevice(const std::string& text);

/// Whether `text` (as parseDevice reads it) names a CUDA device, without requiring one to be
/// present: plans and estimates are made for the device a user names ("auto": CUDA when
/// available). InputError for text that is not a device.
bool plansCuda(const std::string& text);

/// "float32"/"fp32", "bfloat16"/"bf16", "float16"/"fp16", "float64"/"fp64".
torch::ScalarType parseComputeDtype(const std::string& text);

/// "LibTorch 1.13.1 (CPU)" or with CUDA.
std::string torchVersionText();

}  // namespace gqa
