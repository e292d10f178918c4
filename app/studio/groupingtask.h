// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Interactive grouping recomputation as a GUI facade. request() starts, on a small thread pool,
// the search of every layer's grouping for G KV heads (computeGrouping); evaluate() the objective
// and predicted merge cost of one hand-edited layer. Each has its job ids (LatestJob, per layer for
// edits): only the latest request's answer is emitted, answers to older requests are dropped
// whatever order the workers finish in, and stale searches stop early between layers. A new
// request() also makes pending edit evaluations stale (their groups were replaced).
//
// The computation is replaceable (setCompute) so that tests can control when each job finishes.

#include <functional>
#include <map>
#include <memory>

#include <QObject>
#include <QString>
#include <QThreadPool>

#include "headanalysisdata.h"
#include "latestjob.h"

namespace gqa {

struct GroupingRequest {
    std::shared_ptr<const HeadStatisticsStore> statistics;
    int groups = 0;
    GroupingDriver driver;
};

class GroupingTask : public QObject {
    Q_OBJECT
public:
    /// Computes one request on a worker thread; `isCurrent` turns false once the job is stale.
    using Compute =
        std::function<GroupingData(const GroupingRequest&, const std::function<bool()>& isCurrent)>;

    explicit GroupingTask(QObject* parent = nullptr);
    ~GroupingTask() override;

    void setCompute(Compute compute) { m_compute = std::move(compute); }
    /// Starts a search; returns its job id.
    LatestJob::Id request(const GroupingRequest& request);
    /// Starts evaluating `groups` for `layer`; returns its job id (per layer).
    LatestJob::Id evaluate(std::shared_ptr<const HeadStatisticsStore> statistics, int layer,
                           const GroupingDriver& driver, const QVector<QVector<int>>& groups);
    /// Drops every pending answer (new data replaced what they were computed on).
    void invalidate();
    LatestJob::Id latestRequest() const { return m_requests.latest(); }
    /// Blocks until no job runs (tests, shutdown).
    void waitForWorkers() { m_pool.waitForDone(); }

Q_SIGNALS:
    void started(quint64 job, int groups);
    void resultReady(quint64 job, const gqa::GroupingData& data);
    void layerEvaluated(quint64 job, int layer, const gqa::LayerGrouping& grouping);
    /// A stale answer was dropped (for tests and diagnostics).
    void dropped(quint64 job);
    void failed(const QString& message);

private:
    QThreadPool m_pool;
    LatestJob m_requests;
    std::map<int, LatestJob> m_edits;
    Compute m_compute;
};

}  // namespace gqa
