// SPDX-License-Identifier: GPL-3.0-or-later
#include "groupingtask.h"

#include <exception>

#include <QMetaObject>

#include "base/error.h"
#include "headstatisticsstore.h"

namespace gqa {

GroupingTask::GroupingTask(QObject* parent) : QObject(parent) {
    qRegisterMetaType<GroupingData>();
    qRegisterMetaType<LayerGrouping>();
    m_pool.setMaxThreadCount(2);  // a stale search may still be winding down next to the latest
    m_compute = [](const GroupingRequest& r, const std::function<bool()>& isCurrent) {
        if (!r.statistics) throw Error("no statistics to group heads with: analyse first");
        return computeGrouping(*r.statistics, r.groups, r.driver, isCurrent);
    };
}

GroupingTask::~GroupingTask() {
    invalidate();
    m_pool.waitForDone();
}

void GroupingTask::invalidate() {
    m_requests.invalidate();
    for (auto& [layer, jobs] : m_edits) jobs.invalidate();
}

LatestJob::Id GroupingTask::request(const GroupingRequest& request) {
    for (auto& [layer, jobs] : m_edits) jobs.invalidate();
    const LatestJob::Id id = m_requests.begin();
    Q_EMIT started(id, request.groups);
    const Compute compute = m_compute;
    m_pool.start([this, id, request, compute] {
        GroupingData data;
        QString error;
        bool cancelled = false;
        try {
            data = compute(request, [this, id] { return m_requests.isLatest(id); });
        } catch (const Cancelled&) {
            cancelled = true;
        } catch (const std::exception& e) {
            error = QString::fromLocal8Bit(e.what());
        }
        QMetaObject::invokeMethod(
            this,
            [this, id, data, error, cancelled] {
                if (!m_requests.accept(id)) {
                    Q_EMIT dropped(id);
                } else if (!error.isEmpty()) {
                    Q_EMIT failed(error);
                } else if (!cancelled) {
                    Q_EMIT resultReady(id, data);
                }
            },
            Qt::QueuedConnection);
    });
    return id;
}

LatestJob::Id GroupingTask::evaluate(std::shared_ptr<const HeadStatisticsStore> statistics,
                                     int layer, const GroupingDriver& driver,
                                     const QVector<QVector<int>>& groups) {
    LatestJob& jobs = m_edits[layer];
    const LatestJob::Id id = jobs.begin();
    m_pool.start([this, id, layer, statistics, driver, groups] {
        LayerGrouping result;
        QString error;
        try {
            if (!statistics) throw Error("no statistics to evaluate the grouping with");
            result = evaluateGrouping(*statistics, layer, driver, groups);
            result.edited = true;
        } catch (const std::exception& e) {
            error = QString::fromLocal8Bit(e.what());
        }
        QMetaObject::invokeMethod(
            this,
            [this, id, layer, result, error] {
                if (!m_edits[layer].accept(id)) {
                    Q_EMIT dropped(id);
                } else if (!error.isEmpty()) {
                    Q_EMIT failed(error);
                } else {
                    Q_EMIT layerEvaluated(id, layer, result);
                }
            },
            Qt::QueuedConnection);
    });
    return id;
}

}  // namespace gqa
