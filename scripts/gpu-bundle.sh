#!/usr/bin/env bash
# SPDX-License-Identifier: GPL-3.0-or-later
# Gathers, on a Debian 12 machine set up by scripts/setup.sh, everything the headless build needs
# on a GPU machine besides LibTorch (pip's torch), CUDA, cmake, ninja and a C++ compiler, into one
# folder that is copied there (no network or -dev packages needed on the GPU machine):
#
#   BUNDLE/source/                 the repository: HEAD plus uncommitted and untracked files (not
#                                  build folders), the demo model, and the Austen corpus file the
#                                  build extracts the demo text from (data/corpus/janeaustenr)
#   BUNDLE/prefix/include, lib/    HDF5 C and C++ (static; libhdf5.a carries szip/libaec inside),
#                                  zlib (static), nlohmann_json, SentencePiece (shared: it is a
#                                  plug-in's), GoogleTest/GoogleMock (static), gloo's headers
#   BUNDLE/prefix/gqa-bundle.cmake the initial cache that points CMake at all of them:
#                                  cmake -C BUNDLE/prefix/gqa-bundle.cmake ... (gpu-check.sh does)
#   BUNDLE/MANIFEST.txt            what came from which Debian package and version, and sizes
#
# Then run scripts/gpu-check.sh BUNDLE OUTDIR on the GPU machine (BUNDLE/source/scripts/).
#
#   bash scripts/gpu-bundle.sh [BUNDLE]      (default: /tmp/gqa-gpu-bundle; replaced if present)
#
# The libraries are Debian 12's, built with GCC 12 and the C++11 string ABI: they link with pip
# torch 2.7 or later (whose wheels use that ABI too) on a glibc >= 2.36 / libstdc++ >= 12 machine
# (Debian 12, Ubuntu 22.04 with its gcc-12 runtime, Ubuntu 24.04). gpu-check.sh checks the ABI.
set -euo pipefail

root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
bundle=${1:-/tmp/gqa-gpu-bundle}
arch=$(dpkg-architecture -qDEB_HOST_MULTIARCH 2>/dev/null || echo x86_64-linux-gnu)
sys=/usr/lib/$arch
hdf5=$sys/hdf5/serial
# Debian packages whose files are bundled (their versions go into the manifest).
packages=(libhdf5-dev libaec-dev zlib1g-dev nlohmann-json3-dev libsentencepiece-dev
          libsentencepiece0 libgtest-dev libgmock-dev libgloo-dev)

die() { echo "gpu-bundle: $*" >&2; exit 1; }
for f in "$hdf5/libhdf5.a" "$hdf5/libhdf5_cpp.a" "$sys/libsz.a" "$sys/libaec.a" "$sys/libz.a" \
         /usr/include/nlohmann/json.hpp /usr/include/sentencepiece_processor.h \
         "$sys/libsentencepiece.so.0" "$sys/libsentencepiece_train.so.0" "$sys/libgtest.a" \
         /usr/include/gloo/algorithm.h "$sys/cmake/GTest/GTestConfig.cmake"; do
    [ -e "$f" ] || die "$f is missing: run 'bash scripts/setup.sh' (and apt-get install libgloo-dev libaec-dev) first"
done
case "$bundle" in /|"$root"|"$root"/*) die "refusing to write the bundle to $bundle" ;; esac

rm -rf "$bundle"
prefix=$bundle/prefix
mkdir -p "$bundle/source" "$prefix/include" "$prefix/lib/pkgconfig" "$prefix/lib/$arch/cmake" \
         "$prefix/share/cmake"

# --- the repository ------------------------------------------------------------------------------
# Tracked files as they are now in the working tree (uncommitted edits included) and untracked
# files that are not ignored: what `git status` shows, never build folders.
(cd "$root" && git ls-files -z --cached --others --exclude-standard) |
    (cd "$root" && xargs -0 -r sh -c 'for f; do [ -f "$f" ] && printf "%s\0" "$f"; done' sh) |
    tar -C "$root" --null -T - -cf - | tar -C "$bundle/source" -xf -
if [ -f "$root/data/corpus/janeaustenr/Rdata.rdb" ]; then
    mkdir -p "$bundle/source/data/corpus/janeaustenr"
    cp "$root/data/corpus/janeaustenr/Rdata.rdb" "$bundle/source/data/corpus/janeaustenr/"
else
    echo "gpu-bundle: warning: no data/corpus (scripts/get-corpus.sh): the GPU build will have no demo text" >&2
fi
[ -f "$bundle/source/resources/models/demo/model.safetensors" ] || die "the demo model is missing"

# --- HDF5 (static, C and C++) --------------------------------------------------------------------
# libhdf5.a needs szip (libsz, over libaec) for its szip filter: merged into one archive so that
# CMake's FindHDF5, which knows nothing of szip, links a complete library.
cp -rL /usr/include/hdf5/serial/. "$prefix/include/"
merge=$(mktemp -d)
for lib in "$hdf5/libhdf5.a" "$sys/libsz.a" "$sys/libaec.a"; do
    part=$merge/$(basename "$lib" .a)
    mkdir -p "$part"
    (cd "$part" && ar x "$lib")
    for o in "$part"/*.o; do mv "$o" "$part/$(basename "$lib" .a)_$(basename "$o")"; done
done
ar rcs "$prefix/lib/libhdf5.a" "$merge"/*/*.o
rm -rf "$merge"
cp "$hdf5/libhdf5_cpp.a" "$prefix/lib/"
cp "$hdf5/libhdf5.settings" "$prefix/lib/" 2>/dev/null || true

# --- zlib (static), nlohmann_json, gloo's headers --------------------------------------------------
cp /usr/include/zlib.h /usr/include/zconf.h "$prefix/include/"
cp "$sys/libz.a" "$prefix/lib/"
cp -r /usr/include/nlohmann "$prefix/include/"
cp -r /usr/share/cmake/nlohmann_json "$prefix/share/cmake/"
cp -r /usr/include/gloo "$prefix/include/"

# --- SentencePiece (shared: the plug-in links it) --------------------------------------------------
cp /usr/include/sentencepiece_processor.h /usr/include/sentencepiece_trainer.h "$prefix/include/"
for lib in sentencepiece sentencepiece_train; do
    real=$(readlink -f "$sys/lib$lib.so")
    cp "$real" "$prefix/lib/"
    ln -sf "$(basename "$real")" "$prefix/lib/lib$lib.so.0"
    ln -sf "lib$lib.so.0" "$prefix/lib/lib$lib.so"
done
version=$(pkg-config --modversion sentencepiece 2>/dev/null || echo 0)
cat >"$prefix/lib/pkgconfig/sentencepiece.pc" <<EOF
prefix=\${pcfiledir}/../..
libdir=\${prefix}/lib
includedir=\${prefix}/include

Name: sentencepiece
Description: Unsupervised text tokenizer (bundled from Debian by gqa-studio's gpu-bundle.sh)
Version: $version
Libs: -L\${libdir} -lsentencepiece -lsentencepiece_train
Cflags: -I\${includedir}
EOF

# --- GoogleTest / GoogleMock (static) --------------------------------------------------------------
# Debian's CMake package files find the libraries relative to themselves: same layout.
cp -r /usr/include/gtest /usr/include/gmock "$prefix/include/"
cp "$sys"/libgtest.a "$sys"/libgtest_main.a "$sys"/libgmock.a "$sys"/libgmock_main.a \
   "$prefix/lib/$arch/"
cp -r "$sys/cmake/GTest" "$prefix/lib/$arch/cmake/"

# --- the initial cache ------------------------------------------------------------------------------
cat >"$prefix/gqa-bundle.cmake" <<EOF
# Written by scripts/gpu-bundle.sh: cmake -C <this file> points the build at the bundle's
# libraries (paths relative to this file, so the bundle can move).
get_filename_component(gqa_bundle_prefix "\${CMAKE_CURRENT_LIST_DIR}" ABSOLUTE)
set(CMAKE_PREFIX_PATH "\${gqa_bundle_prefix};\${CMAKE_PREFIX_PATH}" CACHE STRING "")
# HDF5: no compiler wrapper or package file, the bundle's static libraries by name.
set(HDF5_ROOT "\${gqa_bundle_prefix}" CACHE PATH "")
set(HDF5_USE_STATIC_LIBRARIES ON CACHE BOOL "")
set(HDF5_NO_FIND_PACKAGE_CONFIG_FILE ON CACHE BOOL "")
set(ZLIB_ROOT "\${gqa_bundle_prefix}" CACHE PATH "")
set(ZLIB_INCLUDE_DIR "\${gqa_bundle_prefix}/include" CACHE PATH "")
set(ZLIB_LIBRARY "\${gqa_bundle_prefix}/lib/libz.a" CACHE FILEPATH "")
set(nlohmann_json_DIR "\${gqa_bundle_prefix}/share/cmake/nlohmann_json" CACHE PATH "")
set(GTest_DIR "\${gqa_bundle_prefix}/lib/$arch/cmake/GTest" CACHE PATH "")
set(SENTENCEPIECE_INCLUDE_DIR "\${gqa_bundle_prefix}/include" CACHE PATH "")
set(SENTENCEPIECE_LIB "\${gqa_bundle_prefix}/lib/libsentencepiece.so" CACHE FILEPATH "")
set(SENTENCEPIECE_TRAIN_LIB "\${gqa_bundle_prefix}/lib/libsentencepiece_train.so" CACHE FILEPATH "")
set(ENV{PKG_CONFIG_PATH} "\${gqa_bundle_prefix}/lib/pkgconfig")
# gloo's headers only where LibTorch has none of its own (cmake/GqaTorch.cmake).
set(GQA_GLOO_FALLBACK_DIR "\${gqa_bundle_prefix}/include" CACHE PATH "")
EOF

# --- manifest ---------------------------------------------------------------------------------------
{
    echo "gqa-studio GPU bundle, made $(date -u +%Y-%m-%dT%H:%MZ) on $(. /etc/os-release && echo "$PRETTY_NAME")"
    echo "source: $(cd "$root" && git describe --always --dirty 2>/dev/null || echo unknown)"
    echo "compiler of the bundled libraries: $(gcc --version | head -1); C++11 string ABI"
    echo
    echo "Debian packages the files come from:"
    dpkg-query -W -f='  ${Package} ${Version}\n' "${packages[@]}" 2>/dev/null || true
    echo
    echo "sizes:"
    du -sh "$bundle/source" "$prefix/include" "$prefix/lib" | sed 's/^/  /'
    du -sh "$bundle" | sed 's/^/  total /'
} >"$bundle/MANIFEST.txt"
cat "$bundle/MANIFEST.txt"
