// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Versions of the libraries the program runs on, for the About dialog, reports and bug reports.
// This header is free of Qt and torch so that the studio can include it; the torch and HDF5
// headers stay in versions.cpp.

#include <string>

namespace gqa {

/// The LibTorch version built against (TORCH_VERSION), e.g. "1.13.0".
std::string torchVersion();

/// What LibTorch computes on in this process: "CPU" or "CPU, CUDA (2 devices)".
std::string torchBackends();

/// What this build computes with, for --version, the About dialog and bug reports:
/// "attention kernel: sdpa; NCCL: yes" (the kernel forward passes use in this process,
/// model/attentionkernel.h, and whether the NCCL communicator is built in).
std::string computeFeatures();

/// The HDF5 library in use at run time (H5get_libversion), e.g. "1.10.8".
std::string hdf5Version();

/// The BLAS library LibTorch loaded (libblas.so.3 with symbolic links resolved, so the provider
/// chosen by update-alternatives shows, e.g. .../openblas-pthread/libblas.so.3); empty if none.
std::string blasLibrary();

}  // namespace gqa
