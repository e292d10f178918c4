// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzzes the safetensors reader (SafetensorsFile::open) on a whole file made of the input bytes,
// then touches every tensor's bytes and writes and re-reads what it read. gqa::Error (InputError)
// is the expected refusal; a crash, sanitizer report, other exception, or a file that opens but
// breaks the reader's promises (offsets inside the data, sizes, round trip) is a finding.

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/safetensors.h"

#include "fuzzsupport.h"

using namespace gqa;

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string path = fuzz::writeScratchFile("input.safetensors", data, size);
    try {
        const SafetensorsFile file = SafetensorsFile::open(path);
        FUZZ_CHECK(file.fileSize() == size);
        std::uint64_t headerSize = 0;
        std::memcpy(&headerSize, data, 8);
        const std::uint64_t dataSize = size - 8 - headerSize;

        std::vector<TensorView> views;
        std::uint64_t previousEnd = 0;
        for (const TensorInfo& t : file.tensors()) {
            FUZZ_CHECK(t.dataBegin <= t.dataEnd && t.dataEnd <= dataSize);
            FUZZ_CHECK(t.numel() >= 0);
            FUZZ_CHECK(std::uint64_t(t.numel()) * dtypeSize(t.dtype) == t.byteSize());
            if (t.byteSize() > 0) {
                FUZZ_CHECK(t.dataBegin >= previousEnd);  // sorted, no overlap
                previousEnd = t.dataEnd;
            }
            FUZZ_CHECK(file.find(t.name) == &t);
            const std::uint8_t* bytes = file.data(t);
            // The bytes lie in the mapping: touch the first and last (a segfault otherwise) and
            // compare them with the input at the same offset.
            if (t.byteSize() > 0) {
                const std::uint8_t* expected = data + 8 + headerSize + t.dataBegin;
                FUZZ_CHECK(bytes[0] == expected[0]);
                FUZZ_CHECK(bytes[t.byteSize() - 1] == expected[t.byteSize() - 1]);
            }
            views.push_back({t.name, t.dtype, t.shape, bytes});
        }

        // What was read can be written and reads back the same.
        const std::string copy = (fuzz::scratchDir() / "copy.safetensors").string();
        writeSafetensors(copy, views, file.metadata());
        const SafetensorsFile again = SafetensorsFile::open(copy);
        FUZZ_CHECK(again.metadata() == file.metadata());
        FUZZ_CHECK(again.tensors().size() == file.tensors().size());
        for (const TensorInfo& t : file.tensors()) {
            const TensorInfo* u = again.find(t.name);
            FUZZ_CHECK(u && u->dtype == t.dtype && u->shape == t.shape &&
                       u->byteSize() == t.byteSize());
            FUZZ_CHECK(std::memcmp(again.data(*u), file.data(t), t.byteSize()) == 0);
        }
    } catch (const gqa::Error&) {
        // InputError: a refused file, the expected outcome for most inputs.
    }
    return 0;
}
