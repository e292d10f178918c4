// SPDX-License-Identifier: GPL-3.0-or-later
#include "text/austencorpus.h"

#include <algorithm>
#include <cctype>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <system_error>
#include <utility>

#include <zlib.h>

#include "base/error.h"

namespace gqa {

const std::vector<std::string> kAustenTitles = {
    "Emma",       "Mansfield Park",      "Northanger Abbey",
    "Persuasion", "Pride and Prejudice", "Sense and Sensibility"};

namespace {

// R serialization constants, from R's src/main/serialize.c and include/Rinternals.h.
constexpr char kXdrMarker[] = "X\n";           // format marker of XDR serialization
constexpr std::int32_t kMinFormatVersion = 2;  // R >= 1.4
constexpr std::int32_t kMaxFormatVersion = 3;  // R >= 3.5 (adds the native encoding name)
constexpr std::int32_t kCharSxp = 9;           // SEXPTYPE of one string
constexpr std::int32_t kStrSxp = 16;           // SEXPTYPE of a character vector
constexpr std::int32_t kTypeMask = 0xff;       // the type sits in the flags' low byte
constexpr std::int32_t kLatin1Mask = 1 << 14;  // LATIN1_MASK (1 << 2) in the gp bits (from 12)
constexpr std::int32_t kNaLength = -1;         // CHARSXP length of NA_character_
// Each rdb record starts with the inflated size as a big-endian uint32 (R's src/main/serialize.c,
// R_compress1).
constexpr std::size_t kRecordHeaderBytes = 4;
// Refuse absurd inflated sizes (zlib inflates up to ~1000-fold); the largest novel is about 1 MB.
constexpr std::uint32_t kMaxInflatedBytes = 256u << 20;

std::uint32_t readU32(const unsigned char* p) {
    return (std::uint32_t(p[0]) << 24) | (std::uint32_t(p[1]) << 16) | (std::uint32_t(p[2]) << 8) |
           std::uint32_t(p[3]);
}

// Cursor over one inflated record; every failure names the file, record and byte offset.
class XdrReader {
public:
    XdrReader(const std::string& data, std::string context)
        : m_data(data), m_context(std::move(context)) {}

    [[noreturn]] void fail(const std::string& what) const {
        throw InputError(m_context + ": " + what + " at byte " + std::to_string(m_pos) +
                         " of the inflated object");
    }

    const char* take(std::size_t n, const char* what) {
        if (n > m_data.size() - m_pos)
            fail(std::string(what) + " of " + std::to_string(n) + " bytes runs past the end (" +
                 std::to_string(m_data.size()) + " bytes)");
        const char* p = m_data.data() + m_pos;
        m_pos += n;
        return p;
    }

    std::size_t remaining() const { return m_data.size() - m_pos; }

    std::int32_t int32(const char* what) {
        return std::int32_t(readU32(reinterpret_cast<const unsigned char*>(take(4, what))));
    }

private:
    const std::string& m_data;
    std::string m_context;
    std::size_t m_pos = 0;
};

std::string latin1ToUtf8(const char* p, std::size_t n) {
    std::string out;
    out.reserve(n);
    for (std::size_t i = 0; i < n; ++i) {
        const auto c = static_cast<unsigned char>(p[i]);
        if (c < 0x80) {
            out += char(c);
        } else {
            out += char(0xc0 | (c >> 6));
            out += char(0x80 | (c & 0x3f));
        }
    }
    return out;
}

std::vector<std::string> parseCharacterVector(const std::string& data, const std::string& context) {
    XdrReader in(data, context);
    if (std::string(in.take(2, "format marker"), 2) != kXdrMarker)
        in.fail("wrong serialization header (not R's XDR format \"X\\n\")");
    const std::int32_t version = in.int32("format version");
    if (version < kMinFormatVersion || version > kMaxFormatVersion)
        in.fail("wrong serialization header (unsupported format version " +
                std::to_string(version) + ")");
    in.int32("R version");
    in.int32("minimum R version");
    if (version == kMaxFormatVersion) {
        const std::int32_t n = in.int32("native encoding length");
        if (n < 0) in.fail("negative native encoding length");
        in.take(std::size_t(n), "native encoding name");
    }
    const std::int32_t vectorFlags = in.int32("object header");
    if ((vectorFlags & kTypeMask) != kStrSxp)
        in.fail("unexpected SEXP type " + std::to_string(vectorFlags & kTypeMask) + " (expected " +
                std::to_string(kStrSxp) + ", a character vector)");
    const std::int32_t count = in.int32("vector length");
    if (count < 0) in.fail("unsupported vector length " + std::to_string(count));

    std::vector<std::string> lines;
    // Each element takes at least its two header words: reserve no more than the data can hold
    // (a corrupt length would otherwise allocate gigabytes before the loop finds the end).
    lines.reserve(std::min(std::size_t(count), in.remaining() / 8));
    for (std::int32_t i = 0; i < count; ++i) {
        const std::int32_t flags = in.int32("string header");
        if ((flags & kTypeMask) != kCharSxp)
            in.fail("unexpected SEXP type " + std::to_string(flags & kTypeMask) + " in line " +
                    std::to_string(i) + " (expected " + std::to_string(kCharSxp) + ", a string)");
        const std::int32_t length = in.int32("string length");
        if (length == kNaLength) {
            lines.emplace_back();
            continue;
        }
        if (length < 0) in.fail("negative string length in line " + std::to_string(i));
        const char* bytes = in.take(std::size_t(length), "string");
        lines.push_back((flags & kLatin1Mask) ? latin1ToUtf8(bytes, std::size_t(length))
                                              : std::string(bytes, std::size_t(length)));
    }
    return lines;
}

// Inflates the zlib stream at `input`, which must give exactly `expected` bytes, into `out`;
// returns the bytes consumed. The output grows as the stream inflates, so that a corrupt size
// costs no more memory than the stream really holds.
std::size_t inflateRecord(const unsigned char* input, std::size_t available, std::size_t expected,
                          std::string& out, const std::string& context) {
    z_stream zs{};
    if (inflateInit(&zs) != Z_OK) throw Error(context + ": cannot initialise zlib");
    zs.next_in = const_cast<unsigned char*>(input);
    zs.avail_in = uInt(std::min<std::size_t>(available, std::numeric_limits<uInt>::max()));
    // One spare byte tells "more data than declared" apart from "exactly as declared".
    const std::size_t limit = expected + 1;
    constexpr std::size_t kFirstChunk = 64 * 1024;
    out.clear();
    int rc = Z_OK;
    while (out.size() < limit) {
        const std::size_t done = out.size();
        const std::size_t grow = std::min(std::max(kFirstChunk, done), limit - done);
        out.resize(done + grow);
        zs.next_out = reinterpret_cast<unsigned char*>(out.data() + done);
        zs.avail_out = uInt(grow);
        rc = inflate(&zs, Z_NO_FLUSH);
        out.resize(done + grow - zs.avail_out);
        // Z_BUF_ERROR with output space left: the input ran out (a truncated stream).
        if (rc != Z_OK) break;
    }
    const std::string message = zs.msg ? zs.msg : "no detail";
    const std::size_t consumed = zs.total_in;
    inflateEnd(&zs);

    if (rc == Z_STREAM_END) {
        if (out.size() != expected)
            throw InputError(context + ": inflates to " + std::to_string(out.size()) +
                             " bytes but its header says " + std::to_string(expected));
        return consumed;
    }
    if (rc == Z_DATA_ERROR || rc == Z_NEED_DICT)
        throw InputError(context + ": bad zlib stream (" + message + ")");
    if (rc == Z_MEM_ERROR) throw Error(context + ": out of memory inflating");
    if (out.size() == limit)
        throw InputError(context + ": inflates to more than the " + std::to_string(expected) +
                         " bytes its header says");
    throw InputError(context + ": truncated zlib stream (file ends early)");
}

}  // namespace

std::vector<Novel> readAustenRdb(const std::string& path) {
    std::ifstream file(path, std::ios::binary);
    if (!file) throw InputError(path + ": cannot open janeaustenr data file");
    const std::string bytes{std::istreambuf_iterator<char>(file), std::istreambuf_iterator<char>()};
    if (file.bad()) throw InputError(path + ": read error");
    if (bytes.empty()) throw InputError(path + ": empty file, expected janeaustenr records");

    const auto* data = reinterpret_cast<const unsigned char*>(bytes.data());
    std::vector<Novel> novels;
    std::size_t pos = 0;
    while (pos < bytes.size()) {
        const std::size_t index = novels.size();
        if (index >= kAustenTitles.size())
            throw InputError(path + ": record " + std::to_string(index) + " (file offset " +
                             std::to_string(pos) + "): unexpected extra record (janeaustenr has " +
                             std::to_string(kAustenTitles.size()) + " novels)");
        const std::string context = path + ": record " + std::to_string(index) + " (" +
                                    kAustenTitles[index] + ", file offset " + std::to_string(pos) +
                                    ")";
        if (bytes.size() - pos < kRecordHeaderBytes)
            throw InputError(context + ": truncated record (" + std::to_string(bytes.size() - pos) +
                             " bytes left, a record starts with a 4-byte size)");
        const std::uint32_t inflatedSize = readU32(data + pos);
        if (inflatedSize > kMaxInflatedBytes)
            throw InputError(context + ": implausible inflated size " +
                             std::to_string(inflatedSize));
        std::string inflated;
        pos += kRecordHeaderBytes;
        pos += inflateRecord(data + pos, bytes.size() - pos, inflatedSize, inflated, context);
        novels.push_back({kAustenTitles[index], parseCharacterVector(inflated, context)});
    }
    return novels;
}

std::string novelFileName(const std::string& title) {
    std::string name;
    for (const char c : title) {
        const auto u = static_cast<unsigned char>(c);
        if (std::isalnum(u))
            name += char(std::tolower(u));
        else if (!name.empty() && name.back() != '_')
            name += '_';
    }
    while (!name.empty() && name.back() == '_') name.pop_back();
    return (name.empty() ? "novel" : name) + ".txt";
}

void writeNovelTexts(const std::vector<Novel>& novels, const std::string& folder) {
    namespace fs = std::filesystem;
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) throw InputError(folder + ": cannot create folder (" + ec.message() + ")");
    for (const Novel& novel : novels) {
        const fs::path target = fs::path(folder) / novelFileName(novel.title);
        const fs::path temp = target.string() + ".tmp";
        {
            std::ofstream out(temp, std::ios::binary | std::ios::trunc);
            for (const std::string& line : novel.lines) out << line << '\n';
            out.flush();
            if (!out) {
                fs::remove(temp, ec);
                throw InputError(target.string() + ": cannot write novel text");
            }
        }
        fs::rename(temp, target, ec);
        if (ec) {
            const std::string reason = ec.message();
            fs::remove(temp, ec);
            throw InputError(target.string() + ": cannot rename temporary file (" + reason + ")");
        }
    }
}

}  // namespace gqa
