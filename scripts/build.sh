#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Configures and builds GQA Studio in build/ (the "default" CMake preset), reusing the build folder.
set -euo pipefail
cd "$(dirname "$0")/.."
echo "[build] configuring (build/)"
cmake --preset default >/dev/null
echo "[build] compiling with $(nproc) jobs (the first build takes several minutes: LibTorch headers are heavy)"
cmake --build --preset default -j "$(nproc)"
