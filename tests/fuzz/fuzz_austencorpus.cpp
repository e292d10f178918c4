// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzzes the janeaustenr Rdata.rdb reader (readAustenRdb). The first input byte picks the mode:
// the rest is the whole file (framing, zlib), or one inflated record that this target compresses
// and frames (so mutations reach the R serialization parser past zlib's checksum). gqa::Error
// (InputError) is the expected refusal; a crash, sanitizer report, other exception, hang, memory
// blow-up or a result larger than the input can hold is a finding.

#include <cstdint>
#include <string>
#include <vector>

#include <zlib.h>

#include "base/error.h"
#include "text/austencorpus.h"

#include "fuzzsupport.h"

using namespace gqa;

namespace {

void putU32(std::string& out, std::uint32_t value) {
    for (int shift = 24; shift >= 0; shift -= 8) out += char((value >> shift) & 0xff);
}

/// One rdb record: the declared inflated size (the true one plus `sizeDelta`), then the zlib
/// stream of `payload`.
std::string frameRecord(const std::uint8_t* payload, std::size_t size, int sizeDelta) {
    uLongf compressedSize = compressBound(uLong(size));
    std::vector<Bytef> compressed(compressedSize);
    if (compress2(compressed.data(), &compressedSize, payload, uLong(size), 1) != Z_OK) return {};
    std::string file;
    putU32(file, std::uint32_t(std::int64_t(size) + sizeDelta));
    file.append(reinterpret_cast<const char*>(compressed.data()), compressedSize);
    return file;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    if (size < 2) return 0;
    std::string file;
    std::size_t payloadBytes = 0;  // bound on what the novels can hold
    switch (data[0] % 4) {
        case 0:  // the file itself
        case 1:
            file.assign(reinterpret_cast<const char*>(data + 1), size - 1);
            break;
        case 2:  // one record, the declared size right
            file = frameRecord(data + 1, size - 1, 0);
            payloadBytes = size - 1;
            break;
        case 3:  // one record, the declared size off by a little
            file = frameRecord(data + 2, size - 2, int(std::int8_t(data[1])));
            payloadBytes = size - 2;
            break;
    }
    const std::string path = fuzz::writeScratchFile("Rdata.rdb", file.data(), file.size());
    try {
        const std::vector<Novel> novels = readAustenRdb(path);
        FUZZ_CHECK(!novels.empty() && novels.size() <= kAustenTitles.size());
        if (payloadBytes > 0) {
            FUZZ_CHECK(novels.size() == 1);
            // Each line costs at least 8 bytes of header; Latin-1 at most doubles its text.
            FUZZ_CHECK(novels[0].lines.size() <= payloadBytes / 8);
            std::size_t textBytes = 0;
            for (const std::string& line : novels[0].lines) textBytes += line.size();
            FUZZ_CHECK(textBytes <= 2 * payloadBytes);
        }
    } catch (const gqa::Error&) {
        // InputError: a refused file, the expected outcome for most inputs.
    }
    return 0;
}
