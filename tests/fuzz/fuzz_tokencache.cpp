// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzzes the binary token-id cache reader (readTokenCache), passing the fingerprint stored in the
// input so that mutations get past the fingerprint check. Refusal is a false return (or a
// gqa::Error); a crash, sanitizer report, other exception, or an accepted cache whose ids the
// writer could not have written (negative, or not as many as the header says) is a finding.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "text/tokendataset.h"

#include "fuzzsupport.h"

using namespace gqa;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = fuzz::writeScratchFile("tokens.cache", data, size);
    std::uint64_t fingerprint = 0, count = 0;
    if (size >= 24) std::memcpy(&fingerprint, data + 16, 8);
    if (size >= 32) std::memcpy(&count, data + 24, 8);
    try {
        std::vector<std::int64_t> ids;
        if (!readTokenCache(path, fingerprint, ids)) return 0;
        FUZZ_CHECK(size >= 32 && ids.size() == count);
        for (std::int64_t id : ids) FUZZ_CHECK(id >= 0);
        // The writer reproduces the ids.
        const std::string copy = (fuzz::scratchDir() / "copy.cache").string();
        writeTokenCache(copy, ids, fingerprint);
        std::vector<std::int64_t> again;
        FUZZ_CHECK(readTokenCache(copy, fingerprint, again) && again == ids);
    } catch (const gqa::Error&) {
        // A refused file.
    }
    return 0;
}
