// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The grouping file: per-layer groupings chosen outside the search (`gqa-cli align --grouping
// FILE`), in the reference code's order-file format (my_list.json): a JSON list over layers, each a
// list of groups, each a list of original head indices. Every layer must be a partition of the
// heads into exactly G groups of equal size (validateGrouping, method §4).

#include <cstddef>
#include <cstdint>
#include <string>
#include <vector>

#include "analysis/grouping.h"

namespace gqa {

/// The groupings in `jsonText`; `origin` names the source in messages. InputError when the text is
/// not JSON, has another number of layers than `layers`, or a layer is not a valid grouping of
/// `heads` heads into `groups` groups.
std::vector<Grouping> groupingsFromJsonText(const std::string& jsonText, const std::string& origin,
                                            std::size_t layers, std::int64_t heads,
                                            std::int64_t groups);

/// groupingsFromJsonText on the file at `path`.
std::vector<Grouping> groupingsFromFile(const std::string& path, std::size_t layers,
                                        std::int64_t heads, std::int64_t groups);

}  // namespace gqa
