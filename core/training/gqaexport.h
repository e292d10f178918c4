// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Writing the trained student as a standard Hugging Face GQA checkpoint (method §7), and
// proving it: the folder is reloaded from disk and its logits compared with the gated model's at
// z = 0 on a fixed probe sequence. Both sides use the weights rounded to the export dtype and
// compute in float32, so they differ only by summation order (tolerance below).

#include <string>

#include "base/dtype.h"
#include "training/gatedkvmodel.h"

namespace gqa {

/// Relative max logit difference accepted between the reloaded export and the gated model at
/// z = 0: float32 round-off of the same products summed in another order (observed ~1e-6).
constexpr double kExportLogitTolerance = 1e-4;

struct ExportVerification {
    bool passed = false;
    double maxRelativeLogitDiff = 0.0;  ///< max |a - b| / max |b|
};

/// Writes `student.exportGqa(dtype)` to `folder` (atomically: staged, then renamed), copying
/// tokenizer and generation config from `auxFrom`, then reloads and verifies it.
ExportVerification exportAndVerify(const GatedKvModel& student, DType dtype,
                                   const std::string& folder, const std::string& auxFrom);

/// The verification alone, for a folder written earlier.
ExportVerification verifyExport(const GatedKvModel& student, DType dtype,
                                const std::string& folder);

}  // namespace gqa
