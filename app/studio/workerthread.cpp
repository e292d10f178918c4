// SPDX-License-Identifier: GPL-3.0-or-later
#include "workerthread.h"

#include <QDeadlineTimer>
#include <QThread>

namespace gqa {

WorkerThread::WorkerThread(QObject* parent) : QObject(parent) {}

WorkerThread::~WorkerThread() {
    if (m_thread) {
        m_thread->wait();
        delete m_thread;
    }
}

bool WorkerThread::isRunning() const { return m_thread && !m_thread->isFinished(); }

bool WorkerThread::wait(int ms) { return !m_thread || m_thread->wait(QDeadlineTimer(ms)); }

bool WorkerThread::start(std::function<void()> job) {
    if (isRunning()) return false;
    if (m_thread) release();  // ended, but its finished signal is still queued
    m_thread = QThread::create(std::move(job));
    QThread* thread = m_thread;
    connect(m_thread, &QThread::finished, this, [this, thread] {
        if (m_thread == thread) release();
    });
    m_thread->start();
    return true;
}

void WorkerThread::release() {
    if (!m_thread) return;
    m_thread->deleteLater();
    m_thread = nullptr;
    Q_EMIT finished();
}

}  // namespace gqa
