// SPDX-License-Identifier: GPL-3.0-or-later
// The one shape of the studio's background tasks (app/studio/workertask.h): outcome signals in
// order, cancel always arriving as cancelled() (never failed()), a refused second start, and a
// replacing start whose predecessor's late answers are dropped.
#include <atomic>
#include <chrono>
#include <thread>

#include <QSignalSpy>
#include <gtest/gtest.h>

#include "base/error.h"
#include "workertask.h"

namespace gqa {
namespace {

constexpr int kWaitMs = 20000;

/// A task whose job reports progress until it is cancelled or `steps` reports have been made,
/// then answers its number.
class CountingTask : public WorkerTask {
    Q_OBJECT
public:
    bool run(int number, int steps, IfRunning ifRunning = IfRunning::Refuse) {
        return startJob(
            [this, number, steps](ProgressSink& sink) -> Deliver {
                for (int i = 0; i < steps; ++i) {
                    reportOrCancel(sink, {double(i) / steps, "counting", {}, {}});
                    std::this_thread::sleep_for(std::chrono::milliseconds(2));
                }
                if (number < 0) throw InputError("negative numbers are refused");
                return [this, number] { Q_EMIT answered(number); };
            },
            {}, ifRunning);
    }

Q_SIGNALS:
    void answered(int number);
};

TEST(WorkerTask, AnswersThenFinishesAndRefusesASecondStart) {
    CountingTask task;
    QSignalSpy answered(&task, &CountingTask::answered);
    QSignalSpy finished(&task, &CountingTask::finished);
    QSignalSpy progress(&task, &CountingTask::progress);
    ASSERT_TRUE(task.run(7, 50));
    EXPECT_TRUE(task.isRunning());
    EXPECT_FALSE(task.run(8, 1));  // refused while running
    ASSERT_TRUE(finished.wait(kWaitMs));
    ASSERT_EQ(answered.size(), 1);
    EXPECT_EQ(answered.front().front().toInt(), 7);
    EXPECT_GE(progress.size(), 1);
    EXPECT_FALSE(task.isRunning());
}

TEST(WorkerTask, CancelArrivesAsCancelledAndErrorsAsFailed) {
    CountingTask task;
    QSignalSpy cancelled(&task, &CountingTask::cancelled);
    QSignalSpy failed(&task, &CountingTask::failed);
    QSignalSpy finished(&task, &CountingTask::finished);
    task.run(1, 1000000);
    task.cancel();
    ASSERT_TRUE(finished.wait(kWaitMs));
    EXPECT_EQ(cancelled.size(), 1);
    EXPECT_TRUE(failed.isEmpty());

    task.run(-1, 1);
    ASSERT_TRUE(finished.wait(kWaitMs));
    ASSERT_EQ(failed.size(), 1);
    EXPECT_TRUE(failed.front().front().toString().contains(QStringLiteral("negative")));
    EXPECT_EQ(cancelled.size(), 1);
}

TEST(WorkerTask, AReplacingStartDropsTheRunningJobsAnswers) {
    CountingTask task;
    QSignalSpy answered(&task, &CountingTask::answered);
    QSignalSpy cancelled(&task, &CountingTask::cancelled);
    QSignalSpy finished(&task, &CountingTask::finished);
    task.run(1, 1000000);
    ASSERT_TRUE(task.run(2, 5, WorkerTask::IfRunning::Replace));
    ASSERT_TRUE(finished.wait(kWaitMs));
    ASSERT_EQ(answered.size(), 1);
    EXPECT_EQ(answered.front().front().toInt(), 2);
    EXPECT_TRUE(cancelled.isEmpty()) << "the replaced job's cancellation is stale news";
    EXPECT_EQ(finished.size(), 1);
    EXPECT_FALSE(task.isRunning());
}

}  // namespace
}  // namespace gqa

#include "test_workertask.moc"
