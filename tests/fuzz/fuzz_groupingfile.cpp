// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzzes the grouping file reader (groupingsFromJsonText, `gqa-cli align --grouping FILE`). The
// first input byte chooses the expected shape (layers 1..4, heads 1..16, groups dividing heads),
// the rest is the file. gqa::Error (InputError) is the expected refusal; a crash, sanitizer report
// or other exception is a finding, and so is an accepted grouping that is not a partition of the
// heads into `groups` equal groups in every layer.

#include <cstdint>
#include <string>
#include <vector>

#include "analysis/groupingfile.h"
#include "base/error.h"

#include "fuzzsupport.h"

using namespace gqa;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::size_t layers = 1 + (data[0] & 3);
    const std::int64_t heads = 1 + ((data[0] >> 2) & 15);
    std::vector<std::int64_t> divisors;
    for (std::int64_t g = 1; g <= heads; ++g)
        if (heads % g == 0) divisors.push_back(g);
    const std::int64_t groups = divisors[(data[0] >> 6) % divisors.size()];
    const std::string text(reinterpret_cast<const char*>(data + 1), size - 1);
    std::vector<Grouping> out;
    try {
        out = groupingsFromJsonText(text, "grouping.json", layers, heads, groups);
    } catch (const gqa::Error&) {
        return 0;
    }
    FUZZ_CHECK(out.size() == layers);
    for (const Grouping& grouping : out) {
        FUZZ_CHECK(std::int64_t(grouping.size()) == groups);
        std::vector<int> seen(std::size_t(heads), 0);
        for (const auto& group : grouping) {
            FUZZ_CHECK(std::int64_t(group.size()) == heads / groups);
            for (std::int64_t h : group) {
                FUZZ_CHECK(h >= 0 && h < heads);
                ++seen[std::size_t(h)];
            }
        }
        for (int count : seen) FUZZ_CHECK(count == 1);
    }
    return 0;
}
