// SPDX-License-Identifier: GPL-3.0-or-later
#include "headanalysistask.h"

namespace gqa {

HeadAnalysisTask::HeadAnalysisTask(QObject* parent) : WorkerTask(parent) {
    qRegisterMetaType<HeadAnalysisData>();
}

void HeadAnalysisTask::start(const HeadAnalysisRequest& request) {
    startJob(
        [this, request](ProgressSink& sink) -> Deliver {
            const HeadAnalysisData data = runHeadAnalysis(request, sink);
            return [this, data] { Q_EMIT resultReady(data); };
        },
        {}, IfRunning::Replace);
}

}  // namespace gqa
