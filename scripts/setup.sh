#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Installs everything GQA Studio needs to build, test and run, from Debian 12 packages.
# Idempotent: packages already present are left alone. Needs root (or sudo).
set -euo pipefail

PACKAGES=(
  # toolchain
  build-essential cmake ninja-build pkg-config git
  # core: LibTorch (CPU) and a fast BLAS behind it (the default reference BLAS is ~60x slower)
  libtorch-dev libopenblas0-pthread libgloo-dev
  # core: run file, JSON, tokenizer
  libhdf5-dev nlohmann-json3-dev libsentencepiece-dev
  # studio: Qt 6 widgets and QCustomPlot built for Qt 6
  qt6-base-dev libqcustomplot-dev libqcustomplot2.1-qt6 libgl-dev
  # tests and GUI checks without a display
  libgtest-dev libgmock-dev xvfb xauth
  # the studio driven with a real pointer (tests/e2e/studio-pointer.sh) and its screenshots
  xdotool
  # icons rendered from the SVG at build time; checks of the Debian package (tests/e2e/package.sh)
  librsvg2-bin desktop-file-utils appstream lintian
  # report checks (pdftoppm) and corpus unpacking (dpkg-deb is always there)
  poppler-utils
  # corpus reader: zlib (inflate) for janeaustenr's Rdata.rdb
  zlib1g-dev
)

say() { printf '[setup] %s\n' "$*"; }

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then
    SUDO="sudo"
    say "not root: using sudo for apt-get"
  else
    say "error: this script installs Debian packages and needs root."
    say "run it as root, or install sudo and run it as a user allowed to use it."
    exit 1
  fi
fi

missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done

if [ ${#missing[@]} -eq 0 ]; then
  say "all ${#PACKAGES[@]} packages already installed"
else
  say "installing ${#missing[@]} missing packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}"
  say "packages installed"
fi

# OpenBLAS must be the provider of libblas.so.3, which libtorch links against.
blas=$(readlink -f "$(ldconfig -p | awk '/libblas.so.3 /{print $NF; exit}')" 2>/dev/null || true)
case "$blas" in
  *openblas*) say "BLAS: $blas" ;;
  *) say "warning: libblas.so.3 resolves to '$blas', not OpenBLAS; torch will be slow."
     say "fix: update-alternatives --config libblas.so.3-x86_64-linux-gnu" ;;
esac
