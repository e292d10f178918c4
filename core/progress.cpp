// SPDX-License-Identifier: GPL-3.0-or-later
#include "progress.h"

#include "error.h"

namespace gqa {

void reportOrCancel(ProgressSink& sink, const ProgressUpdate& update) {
    if (!sink.report(update)) throw Cancelled(update.stage.empty() ? "operation" : update.stage);
}

}  // namespace gqa
