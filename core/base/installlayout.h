// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Where the program finds its own files at run time: relative to its executable, so that the build
// tree and every installed tree (cmake --install, the Debian package, a moved copy) work the same
// way. No build path is compiled in.
//
//   PREFIX/bin/gqa-cli, gqa-studio            the executables (build tree: build/bin)
//   PREFIX/lib/gqa-studio/libgqa_spm.so       SentencePiece plug-in ($GQA_SPM_PLUGIN overrides)
//   PREFIX/share/gqa-studio/                  data ($GQA_DATA_DIR overrides)
//   PREFIX/share/gqa-studio/models/demo       the bundled demo model (build tree: a link to
//                                             resources/models/demo made at configure time)
//   PREFIX/share/gqa-studio/text              the demo's calibration, training and held-out text
//                                             (Austen's novels, extracted at build time)

#include <filesystem>

namespace gqa {

/// The running executable (/proc/self/exe, symbolic links resolved); empty when unknown.
std::filesystem::path executablePath();

/// The folder above the executable's bin/ folder; empty when the executable is unknown.
std::filesystem::path installPrefix();

/// PREFIX/lib/gqa-studio: private libraries and plug-ins.
std::filesystem::path pluginDir();

/// $GQA_DATA_DIR when set, else PREFIX/share/gqa-studio. May not exist.
std::filesystem::path dataDir();

/// dataDir()/models/demo. May not exist (a build without the demo model).
std::filesystem::path demoModelDir();

/// dataDir()/text: the six novels as .txt files (emma.txt calibrates, persuasion.txt is held
/// out). May not exist (a build made without the corpus, scripts/get-corpus.sh).
std::filesystem::path demoTextDir();

}  // namespace gqa
