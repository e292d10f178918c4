// SPDX-License-Identifier: GPL-3.0-or-later
#include "reporttask.h"

#include <exception>

#include <QMetaObject>

namespace gqa {

ReportTask::ReportTask(QObject* parent) : QObject(parent) { qRegisterMetaType<ReportResult>(); }

ReportTask::~ReportTask() { cancel(); }

void ReportTask::cancel() {
    if (m_stop) m_stop->store(true);
}

bool ReportTask::start(const ReportConfig& config) {
    if (m_running) return false;
    m_stop = std::make_shared<std::atomic_bool>(false);
    auto stop = m_stop;
    m_running = m_worker.start([this, config, stop] {
        try {
            auto data = std::make_shared<ReportData>(
                gatherReportData(config, [this, stop](double fraction, const QString& stage) {
                    QMetaObject::invokeMethod(
                        this, [this, fraction, stage] { Q_EMIT progress(fraction, stage); },
                        Qt::QueuedConnection);
                    return !stop->load();
                }));
            QMetaObject::invokeMethod(
                this,
                [this, data, config] {
                    try {
                        Q_EMIT resultReady(writeReport(*data, config));
                    } catch (const std::exception& e) {
                        Q_EMIT failed(QString::fromLocal8Bit(e.what()));
                    }
                    end();
                },
                Qt::QueuedConnection);
        } catch (const std::exception& e) {
            const QString message = QString::fromLocal8Bit(e.what());
            QMetaObject::invokeMethod(
                this,
                [this, message] {
                    Q_EMIT failed(message);
                    end();
                },
                Qt::QueuedConnection);
        }
    });
    return m_running;
}

void ReportTask::end() {
    m_running = false;
    Q_EMIT finished();
}

}  // namespace gqa
