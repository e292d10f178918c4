// SPDX-License-Identifier: GPL-3.0-or-later
#include "latestjob.h"

namespace gqa {

bool LatestJob::accept(Id id) {
    if (!isLatest(id) || id == m_accepted) return false;
    m_accepted = id;
    return true;
}

}  // namespace gqa
