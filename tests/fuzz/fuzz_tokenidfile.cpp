// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzzes the plain-text token-id file reader (readTokenIdFile, whitespace-separated ids) with and
// without a vocabulary bound taken from the first input byte. gqa::Error (InputError) is the
// expected refusal; a crash, sanitizer report, other exception, or an accepted id that is
// negative or outside the vocabulary, or that does not survive writeTokenIdFile, is a finding.

#include <cstdint>
#include <string>
#include <vector>

#include "base/error.h"
#include "text/tokenizer.h"

#include "fuzzsupport.h"

using namespace gqa;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 1) return 0;
    const std::int64_t vocab = data[0] < 128 ? 0 : std::int64_t(data[0]) * 1000;
    const std::string path = fuzz::writeScratchFile("ids.txt", data + 1, size - 1);
    try {
        const std::vector<std::int64_t> ids = readTokenIdFile(path, vocab);
        for (std::int64_t id : ids) FUZZ_CHECK(id >= 0 && (vocab == 0 || id < vocab));
        const std::string copy = (fuzz::scratchDir() / "copy.txt").string();
        writeTokenIdFile(copy, ids);
        FUZZ_CHECK(readTokenIdFile(copy, vocab) == ids);
    } catch (const gqa::Error&) {
        // InputError: a refused file, the expected outcome for most inputs.
    }
    return 0;
}
