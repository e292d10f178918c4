// SPDX-License-Identifier: GPL-3.0-or-later
#include "reporttask.h"

#include <exception>
#include <memory>

#include <QMetaObject>
#include <QThread>

namespace gqa {

ReportTask::ReportTask(QObject* parent) : QObject(parent) { qRegisterMetaType<ReportResult>(); }

ReportTask::~ReportTask() {
    if (m_thread) {
        m_thread->wait();
        delete m_thread;
    }
}

void ReportTask::start(const ReportConfig& config) {
    if (m_thread) return;
    m_thread = QThread::create([this, config] {
        try {
            auto data = std::make_shared<ReportData>(
                gatherReportData(config, [this](double fraction, const QString& stage) {
                    QMetaObject::invokeMethod(
                        this, [this, fraction, stage] { Q_EMIT progress(fraction, stage); },
                        Qt::QueuedConnection);
                    return true;
                }));
            QMetaObject::invokeMethod(
                this,
                [this, data, config] {
                    try {
                        Q_EMIT resultReady(writeReport(*data, config));
                    } catch (const std::exception& e) {
                        Q_EMIT failed(QString::fromLocal8Bit(e.what()));
                    }
                },
                Qt::QueuedConnection);
        } catch (const std::exception& e) {
            const QString message = QString::fromLocal8Bit(e.what());
            QMetaObject::invokeMethod(
                this, [this, message] { Q_EMIT failed(message); }, Qt::QueuedConnection);
        }
    });
    connect(m_thread, &QThread::finished, this, [this] {
        m_thread->deleteLater();
        m_thread = nullptr;
    });
    m_thread->start();
}

}  // namespace gqa
