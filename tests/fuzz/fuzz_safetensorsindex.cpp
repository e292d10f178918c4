// SPDX-License-Identifier: GPL-3.0-or-later
// Fuzzes model.safetensors.index.json handling (SafetensorsCheckpoint::open on a folder whose
// index is the input, next to fixed shards, a duplicate, an empty, a broken file and a folder).
// gqa::Error (InputError) is the expected refusal; a crash, sanitizer report, other exception, or
// an opened checkpoint whose lookups disagree (names, files, sizes) is a finding.

#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "base/error.h"
#include "io/safetensors.h"

#include "fuzzsupport.h"

using namespace gqa;
namespace fs = std::filesystem;

namespace {

/// The model folder with everything but the index, written once per process.
const std::string& modelFolder() {
    static const std::string folder = [] {
        const fs::path dir = fuzz::scratchDir() / "model";
        fs::create_directories(dir / "folder.safetensors");
        const float a[2] = {1.0f, 2.0f};
        const std::uint8_t b[3] = {1, 2, 3};
        const std::uint16_t c[4] = {0x3f80, 0x4000, 0x4040, 0x4080};
        writeSafetensors((dir / "model-00001-of-00002.safetensors").string(),
                         {{"a", DType::F32, {2}, a}, {"b", DType::U8, {3}, b}}, {{"format", "pt"}});
        writeSafetensors((dir / "model-00002-of-00002.safetensors").string(),
                         {{"c", DType::BF16, {2, 2}, c}, {"z", DType::F32, {0}, nullptr}});
        writeSafetensors((dir / "extra.safetensors").string(), {{"a", DType::F32, {1}, a}});
        writeSafetensors((dir / "empty.safetensors").string(), {});
        const char broken[] = "\x10\0\0\0\0\0\0\0{not json at all";
        fuzz::writeScratchFile("model/broken.safetensors", broken, sizeof broken - 1);
        return dir.string();
    }();
    return folder;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
    const std::string& folder = modelFolder();
    fuzz::writeScratchFile("model/model.safetensors.index.json", data, size);
    try {
        const SafetensorsCheckpoint checkpoint = SafetensorsCheckpoint::open(folder);
        FUZZ_CHECK(checkpoint.sharded());
        std::set<std::string> seen;
        std::uint64_t total = 0;
        for (const std::string& name : checkpoint.names()) {
            FUZZ_CHECK(seen.insert(name).second);
            FUZZ_CHECK(checkpoint.contains(name));
            const TensorInfo& info = checkpoint.info(name);
            FUZZ_CHECK(info.name == name);
            total += info.byteSize();
            const fs::path file = checkpoint.fileOf(name);
            FUZZ_CHECK(file.parent_path() == fs::path(folder));
            const std::uint8_t* bytes = checkpoint.data(name);
            if (info.byteSize() > 0) {  // inside the mapping: a segfault otherwise
                const volatile std::uint8_t last = bytes[info.byteSize() - 1];
                (void)last;
            }
        }
        FUZZ_CHECK(total == checkpoint.totalTensorBytes());
        FUZZ_CHECK(!checkpoint.contains("no such tensor"));
        checkpoint.metadata();
    } catch (const gqa::Error&) {
        // InputError: a refused index, the expected outcome for most inputs.
    }
    return 0;
}
