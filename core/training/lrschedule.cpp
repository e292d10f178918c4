// SPDX-License-Identifier: GPL-3.0-or-later
#include "training/lrschedule.h"

#include <cmath>

namespace gqa {

double warmupCosineLr(std::int64_t step, std::int64_t warmupSteps, std::int64_t totalSteps,
                      double peakLr, double minLr) {
    if (step < 0) return 0.0;
    if (step < warmupSteps) return peakLr * double(step) / double(warmupSteps);
    if (totalSteps <= warmupSteps) return peakLr;
    if (step >= totalSteps) return minLr;
    const double progress = double(step - warmupSteps) / double(totalSteps - warmupSteps);
    return minLr + 0.5 * (peakLr - minLr) * (1.0 + std::cos(M_PI * progress));
}

}  // namespace gqa
