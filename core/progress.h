// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Progress reporting for long core operations.
//
// Every long operation takes a ProgressSink&. It reports a fraction in [0, 1], a short stage text
// and optional named metrics; the sink's answer says whether to go on. Returning false makes the
// operation stop at its next safe point and throw gqa::Cancelled (after saving what it can).
// The GUI implements the sink on a worker thread and forwards value copies; the CLI draws a bar.

#include <string>
#include <utility>
#include <vector>

namespace gqa {

struct ProgressUpdate {
    double fraction = 0.0;  ///< 0..1 of the current operation
    std::string stage;      ///< what is being done, e.g. "loading tensors"
    std::vector<std::pair<std::string, double>> metrics;  ///< e.g. {"loss", 2.3}
    /// Named arrays, e.g. {"gates", layer-major [layers * heads] values} of a training step.
    std::vector<std::pair<std::string, std::vector<double>>> arrays = {};
};

class ProgressSink {
public:
    virtual ~ProgressSink() = default;
    /// Returns true to continue, false to ask the operation to cancel.
    virtual bool report(const ProgressUpdate& update) = 0;
};

/// A sink that ignores reports and never cancels.
class NullProgress final : public ProgressSink {
public:
    bool report(const ProgressUpdate&) override { return true; }
};

/// Reports and throws gqa::Cancelled if the sink asks to stop.
void reportOrCancel(ProgressSink& sink, const ProgressUpdate& update);

}  // namespace gqa
