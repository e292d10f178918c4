// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/gqaexport.h"

#include <filesystem>

#include "training/trainingcheckpoint.h"

namespace gqa {
namespace fs = std::filesystem;

namespace {
constexpr std::int64_t kProbeLength = 64;  ///< tokens of the probe sequence
constexpr std::uint64_t kProbeSeed = 7;
}  // namespace

ExportVerification verifyExport(const GatedKvModel& student, DType dtype,
                                const std::string& folder) {
    torch::NoGradGuard noGrad;
    const ModelConfig& c = student.config();
    const DecoderModel exported(Checkpoint::load(folder), torch::kFloat32, torch::kCPU);
    const GatedKvModel rounded(student.toTrainingCheckpoint(dtype), student.groups(),
                               torch::kFloat32, torch::kCPU);
    torch::Generator generator = at::detail::createCPUGenerator(kProbeSeed);
    const std::int64_t length = std::min<std::int64_t>(kProbeLength, c.maxPositionEmbeddings);
    const torch::Tensor probe = torch::randint(c.vocabSize, {1, length}, generator);
    const torch::Tensor expected =
        rounded.forward(probe, torch::zeros({c.numLayers, c.numHeads}), torch::kFloat32);
    const torch::Tensor actual = exported.forward(probe);
    ExportVerification v;
    v.maxRelativeLogitDiff =
        ((actual - expected).abs().max() / expected.abs().max().clamp_min(1e-30)).item<double>();
    v.passed = exported.config().numKvHeads == student.groups() &&
               v.maxRelativeLogitDiff <= kExportLogitTolerance;
    return v;
}

ExportVerification exportAndVerify(const GatedKvModel& student, DType dtype,
                                   const std::string& folder, const std::string& auxFrom) {
    const std::string staged = folder + ".tmp";
    fs::remove_all(staged);
    student.exportGqa(dtype).save(staged, 0, auxFrom);
    replaceFolder(staged, folder);
    return verifyExport(student, dtype, folder);
}

}  // namespace gqa
