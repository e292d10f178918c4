// SPDX-License-Identifier: GPL-3.0-or-later
#include "io/safetensors.h"

#include <fcntl.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <optional>
#include <set>

#include <nlohmann/json.hpp>

#include "base/error.h"

static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__,
              "safetensors data is little-endian; big-endian hosts are not supported");

namespace gqa {
namespace fs = std::filesystem;
using nlohmann::json;

namespace {

constexpr const char* kSingleFile = "model.safetensors";
constexpr const char* kIndexFile = "model.safetensors.index.json";
constexpr const char* kMetadataKey = "__metadata__";

std::string formatShape(const std::vector<std::int64_t>& shape) {
    std::string text = "[";
    for (std::size_t i = 0; i < shape.size(); ++i)
        text += (i ? "," : "") + std::to_string(shape[i]);
    return text + "]";
}

/// numel(shape) * dtypeSize(t); nullopt for negative dimensions or on overflow.
std::optional<std::uint64_t> byteCount(DType t, const std::vector<std::int64_t>& shape) {
    std::uint64_t bytes = dtypeSize(t);
    for (std::int64_t d : shape)
        if (d < 0 || __builtin_mul_overflow(bytes, static_cast<std::uint64_t>(d), &bytes))
            return std::nullopt;
    return bytes;
}

/// Parses JSON, refusing repeated keys in any object (the last would silently win otherwise).
/// Messages start with `what`, e.g. "model.safetensors: header".
json parseJson(const char* begin, const char* end, const std::string& what) {
    std::vector<std::set<std::string>> keysOfOpenObjects;
    auto callback = [&](int, json::parse_event_t event, json& parsed) {
        if (event == json::parse_event_t::object_start) {
            keysOfOpenObjects.emplace_back();
        } else if (event == json::parse_event_t::object_end) {
            keysOfOpenObjects.pop_back();
        } else if (event == json::parse_event_t::key) {
            const auto& key = parsed.get_ref<const std::string&>();
            if (!keysOfOpenObjects.back().insert(key).second)
                throw InputError(what + " repeats the key '" + key + "'");
        }
        return true;
    };
    try {
        return json::parse(begin, end, callback);
    } catch (const json::exception& e) {
        throw InputError(what + " is not valid JSON: " + e.what());
    }
}

TensorInfo parseTensorEntry(const std::string& path, const std::string& name, const json& entry,
                            std::uint64_t dataSize) {
    auto fail = [&](const std::string& problem) {
        return InputError(path + ": tensor '" + name + "' " + problem);
    };
    if (!entry.is_object()) throw fail("is not a JSON object");
    for (const char* field : {"dtype", "shape", "data_offsets"})
        if (!entry.contains(field)) throw fail(std::string("has no \"") + field + "\"");

    TensorInfo info;
    info.name = name;
    const json& dtype = entry["dtype"];
    if (!dtype.is_string()) throw fail("dtype " + dtype.dump() + " is not a string");
    const auto parsedType = dtypeFromName(dtype.get<std::string>());
    if (!parsedType) throw fail("has unknown dtype '" + dtype.get<std::string>() + "'");
    info.dtype = *parsedType;

    const json& shape = entry["shape"];
    if (!shape.is_array()) throw fail("shape " + shape.dump() + " is not an array");
    for (const json& d : shape) {
        if (!d.is_number_integer()) throw fail("shape " + shape.dump() + " holds a non-integer");
        if (!d.is_number_unsigned() && d.get<std::int64_t>() < 0)
            throw fail("shape " + shape.dump() + " has a negative dimension");
        if (d.is_number_unsigned() && d.get<std::uint64_t>() > INT64_MAX)
            throw fail("shape " + shape.dump() + " has a dimension too large");
        info.shape.push_back(d.get<std::int64_t>());
    }

    const json& offsets = entry["data_offsets"];
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
        throw fail("data_offsets " + offsets.dump() + " are not two non-negative integers");
    info.dataBegin = offsets[0].get<std::uint64_t>();
    info.dataEnd = offsets[1].get<std::uint64_t>();
    const std::string offsetText = "data_offsets [" + std::to_string(info.dataBegin) + ", " +
                                   std::to_string(info.dataEnd) + "]";
    if (info.dataBegin > info.dataEnd) throw fail(offsetText + " begin after end");
    if (info.dataEnd > dataSize)
        throw fail(offsetText + " end past the data section (" + std::to_string(dataSize) +
                   " bytes)");

    const auto needed = byteCount(info.dtype, info.shape);
    if (!needed) throw fail("shape " + formatShape(info.shape) + " is too large");
    if (*needed != info.byteSize())
        throw fail("shape " + formatShape(info.shape) + " of " + dtypeName(info.dtype) + " needs " +
                   std::to_string(*needed) + " bytes but data_offsets span " +
                   std::to_string(info.byteSize()));
    return info;
}

/// Closes a file descriptor when it goes out of scope.
struct FdCloser {
    int fd;
    ~FdCloser() { ::close(fd); }
};

struct Chunk {
    const void* data;
    std::uint64_t size;
};

bool writeAll(int fd, const Chunk& chunk) {
    auto* p = static_cast<const char*>(chunk.data);
    std::uint64_t left = chunk.size;
    while (left > 0) {
        const ssize_t n = ::write(fd, p, std::min<std::uint64_t>(left, 1u << 30));
        if (n < 0 && errno == EINTR) continue;
        if (n == 0) errno = EIO;
        if (n <= 0) return false;
        p += n;
        left -= static_cast<std::uint64_t>(n);
    }
    return true;
}

/// Writes the chunks to a temporary file next to `path`, syncs it and renames it into place.
/// On failure the temporary file is removed and an Error names the step and the system's reason.
void writeFileAtomically(const std::string& path, const std::vector<Chunk>& chunks) {
    static std::atomic<unsigned> counter{0};
    const std::string tmp =
        path + ".tmp." + std::to_string(::getpid()) + "." + std::to_string(counter++);
    const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
    if (fd < 0) throw Error(path + ": cannot create " + tmp + ": " + std::strerror(errno));

    const char* failedStep = nullptr;
    int failedErrno = 0;
    auto check = [&](bool ok, const char* step) {
        if (!ok && !failedStep) {
            failedStep = step;
            failedErrno = errno;
        }
    };
    for (const Chunk& chunk : chunks)
        if (!failedStep) check(writeAll(fd, chunk), "writing");
    if (!failedStep) check(::fsync(fd) == 0, "syncing");
    check(::close(fd) == 0, "closing");
    if (!failedStep) check(::rename(tmp.c_str(), path.c_str()) == 0, "renaming into place");
    if (failedStep) {
        ::unlink(tmp.c_str());
        throw Error(path + ": failed " + failedStep + " " + tmp + ": " +
                    std::strerror(failedErrno));
    }
    // Make the rename itself durable; failure here loses nothing already visible.
    const std::string folder = fs::path(path).parent_path().string();
    const int dirFd = ::open(folder.empty() ? "." : folder.c_str(), O_RDONLY | O_DIRECTORY);
    if (dirFd >= 0) {
        ::fsync(dirFd);
        ::close(dirFd);
    }
}

/// Refuses what cannot be written: duplicate or reserved names, bad shapes, missing data.
void validateForWriting(const std::string& where, const std::vector<TensorView>& tensors) {
    std::set<std::string> seen;
    for (const TensorView& t : tensors) {
        const std::string tensor = where + ": tensor '" + t.name + "'";
        if (t.name == kMetadataKey) throw InputError(tensor + " uses a reserved name");
        if (!seen.insert(t.name).second) throw InputError(tensor + " is given twice");
        const auto bytes = byteCount(t.dtype, t.shape);
        if (!bytes) throw InputError(tensor + " has an invalid shape " + formatShape(t.shape));
        if (*bytes > 0 && !t.data) throw InputError(tensor + " has no data");
    }
}

std::string shardFileName(std::size_t number, std::size_t count) {
    char name[64];
    std::snprintf(name, sizeof name, "model-%05zu-of-%05zu.safetensors", number, count);
    return name;
}

/// True for names shardFileName() makes, such as "model-00002-of-00005.safetensors".
bool isShardFileName(const std::string& name) {
    std::size_t number = 0, count = 0;
    int parsed = 0;
    const char* pattern = "model-%zu-of-%zu.safetensors%n";
    if (std::sscanf(name.c_str(), pattern, &number, &count, &parsed) != 2 || parsed == 0)
        return false;
    return name == shardFileName(number, count);
}

void removeFile(const fs::path& file) {
    std::error_code ec;
    fs::remove(file, ec);
    if (ec) throw Error(file.string() + ": cannot remove the stale file: " + ec.message());
}

/// Removes checkpoint files of `folder` not in `keep`: the index first, so that no index is left
/// naming shards that are gone, then the single file and the shards.
void removeStaleCheckpointFiles(const fs::path& folder, const std::set<std::string>& keep) {
    if (!keep.count(kIndexFile)) removeFile(folder / kIndexFile);
    std::vector<fs::path> stale;
    for (const auto& entry : fs::directory_iterator(folder)) {
        const std::string name = entry.path().filename().string();
        if ((name == kSingleFile || isShardFileName(name)) && !keep.count(name))
            stale.push_back(entry.path());
    }
    for (const fs::path& file : stale) removeFile(file);
}

/// The weight map of an index file: tensor name -> shard file name inside the folder.
std::map<std::string, std::string> readIndex(const std::string& path) {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw InputError(path + ": cannot open: " + std::strerror(errno));
    const std::string text{std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
    if (in.bad()) throw InputError(path + ": cannot read");
    const json index = parseJson(text.data(), text.data() + text.size(), path + ": index");
    if (!index.is_object() || !index.contains("weight_map") || !index["weight_map"].is_object())
        throw InputError(path + ": index is not an object with a \"weight_map\" object");
    std::map<std::string, std::string> weightMap;
    for (const auto& [name, file] : index["weight_map"].items()) {
        if (!file.is_string())
            throw InputError(path + ": weight_map entry '" + name + "' is not a string");
        const std::string fileName = file.get<std::string>();
        if (fileName.empty() || fileName == "." || fileName == ".." ||
            fs::path(fileName).filename().string() != fileName)
            throw InputError(path + ": weight_map entry '" + name + "' names '" + fileName +
                             "', which is not a file name inside the folder");
        weightMap[name] = fileName;
    }
    if (weightMap.empty()) throw InputError(path + ": weight_map lists no tensors");
    return weightMap;
}

}  // namespace

std::int64_t TensorInfo::numel() const {
    std::int64_t n = 1;
    for (std::int64_t d : shape) n *= d;
    return n;
}

// ---- SafetensorsFile ----------------------------------------------------------------------------

struct SafetensorsFile::Impl {
    std::string path;
    void* mapping = nullptr;
    std::uint64_t fileSize = 0;
    const std::uint8_t* data = nullptr;  ///< start of the data section
    std::uint64_t dataSize = 0;
    std::vector<TensorInfo> tensors;
    std::map<std::string, std::size_t> byName;
    std::map<std::string, std::string> metadata;

    ~Impl() {
        if (mapping) ::munmap(mapping, fileSize);
    }
};

SafetensorsFile::SafetensorsFile(std::unique_ptr<Impl> impl) : m_impl(std::move(impl)) {}
SafetensorsFile::SafetensorsFile(SafetensorsFile&&) noexcept = default;
SafetensorsFile& SafetensorsFile::operator=(SafetensorsFile&&) noexcept = default;
SafetensorsFile::~SafetensorsFile() = default;

SafetensorsFile SafetensorsFile::open(const std::string& path) {
    auto impl = std::make_unique<Impl>();
    impl->path = path;
    {
        const int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
        if (fd < 0) throw InputError(path + ": cannot open: " + std::strerror(errno));
        FdCloser closer{fd};
        struct stat st {};
        if (::fstat(fd, &st) != 0) throw Error(path + ": cannot stat: " + std::strerror(errno));
        if (!S_ISREG(st.st_mode)) throw InputError(path + ": not a regular file");
        impl->fileSize = static_cast<std::uint64_t>(st.st_size);
        if (impl->fileSize < 8)
            throw InputError(path + ": file is " + std::to_string(impl->fileSize) +
                             " bytes, too small for the 8-byte header length");
        void* mapping = ::mmap(nullptr, impl->fileSize, PROT_READ, MAP_PRIVATE, fd, 0);
        if (mapping == MAP_FAILED) throw Error(path + ": cannot map: " + std::strerror(errno));
        impl->mapping = mapping;  // unmapped by ~Impl from here on, also when validation throws
    }
    const auto* bytes = static_cast<const std::uint8_t*>(impl->mapping);
    std::uint64_t headerSize = 0;
    std::memcpy(&headerSize, bytes, 8);
    if (headerSize > impl->fileSize - 8)
        throw InputError(path + ": header length " + std::to_string(headerSize) +
                         " runs past the end of the file (size " + std::to_string(impl->fileSize) +
                         ")");
    if (headerSize > kMaxSafetensorsHeaderBytes)
        throw InputError(path + ": header length " + std::to_string(headerSize) +
                         " is over the limit of " + std::to_string(kMaxSafetensorsHeaderBytes) +
                         " bytes");
    impl->data = bytes + 8 + headerSize;
    impl->dataSize = impl->fileSize - 8 - headerSize;

    const auto* headerText = reinterpret_cast<const char*>(bytes + 8);
    const json header = parseJson(headerText, headerText + headerSize, path + ": header");
    if (!header.is_object()) throw InputError(path + ": header is not a JSON object");
    for (const auto& [key, value] : header.items()) {
        if (key != kMetadataKey) {
            impl->tensors.push_back(parseTensorEntry(path, key, value, impl->dataSize));
            continue;
        }
        if (!value.is_object()) throw InputError(path + ": __metadata__ is not a JSON object");
        for (const auto& [metaKey, metaValue] : value.items()) {
            if (!metaValue.is_string())
                throw InputError(path + ": __metadata__ value of '" + metaKey +
                                 "' is not a string");
            impl->metadata[metaKey] = metaValue.get<std::string>();
        }
    }

    std::sort(impl->tensors.begin(), impl->tensors.end(), [](const auto& a, const auto& b) {
        return std::tie(a.dataBegin, a.dataEnd, a.name) < std::tie(b.dataBegin, b.dataEnd, b.name);
    });
    // Sorted by begin, two tensors sharing a byte means one starts before the previous one ends.
    // Zero-size tensors hold no bytes and overlap nothing.
    const TensorInfo* previous = nullptr;
    for (const TensorInfo& t : impl->tensors) {
        if (t.byteSize() == 0) continue;
        if (previous && t.dataBegin < previous->dataEnd)
            throw InputError(path + ": tensors '" + previous->name + "' and '" + t.name +
                             "' overlap");
        previous = &t;
    }
    for (std::size_t i = 0; i < impl->tensors.size(); ++i) impl->byName[impl->tensors[i].name] = i;
    return SafetensorsFile(std::move(impl));
}

const std::string& SafetensorsFile::path() const { return m_impl->path; }
const std::vector<TensorInfo>& SafetensorsFile::tensors() const { return m_impl->tensors; }
const std::map<std::string, std::string>& SafetensorsFile::metadata() const {
    return m_impl->metadata;
}
std::uint64_t SafetensorsFile::fileSize() const { return m_impl->fileSize; }

const TensorInfo* SafetensorsFile::find(const std::string& name) const {
    const auto it = m_impl->byName.find(name);
    return it == m_impl->byName.end() ? nullptr : &m_impl->tensors[it->second];
}

const std::uint8_t* SafetensorsFile::data(const TensorInfo& tensor) const {
    if (tensor.dataBegin > tensor.dataEnd || tensor.dataEnd > m_impl->dataSize)
        throw Error(m_impl->path + ": tensor '" + tensor.name + "' is not from this file");
    return m_impl->data + tensor.dataBegin;
}

// ---- writing ------------------------------------------------------------------------------------

void writeSafetensors(const std::string& path, const std::vector<TensorView>& tensors,
                      const std::map<std::string, std::string>& metadata) {
    validateForWriting(path, tensors);
    nlohmann::ordered_json header = nlohmann::ordered_json::object();
    if (!metadata.empty()) header[kMetadataKey] = metadata;
    std::vector<Chunk> chunks(1);
    std::uint64_t offset = 0;
    for (const TensorView& t : tensors) {
        const std::uint64_t bytes = *byteCount(t.dtype, t.shape);
        header[t.name] = {{"dtype", dtypeName(t.dtype)},
                          {"shape", t.shape},
                          {"data_offsets", {offset, offset + bytes}}};
        if (bytes > 0) chunks.push_back({t.data, bytes});
        offset += bytes;
    }
    std::string headerText;
    try {
        headerText = header.dump();
    } catch (const nlohmann::json::exception& e) {
        throw InputError(path + ": tensor names and metadata must be valid UTF-8: " + e.what());
    }
    headerText.append((8 - headerText.size() % 8) % 8, ' ');
    const std::uint64_t headerSize = headerText.size();
    std::string prefix(reinterpret_cast<const char*>(&headerSize), 8);
    prefix += headerText;
    chunks[0] = {prefix.data(), prefix.size()};
    writeFileAtomically(path, chunks);
}

void writeSafetensorsCheckpoint(const std::string& folder, const std::vector<TensorView>& tensors,
                                std::uint64_t maxShardBytes,
                                const std::map<std::string, std::string>& metadata) {
    validateForWriting(folder, tensors);
    std::error_code ec;
    fs::create_directories(folder, ec);
    if (ec) throw Error(folder + ": cannot create the folder: " + ec.message());

    // Fill shards in order; a tensor that does not fit starts the next shard.
    std::vector<std::vector<TensorView>> shards(1);
    std::uint64_t shardBytes = 0;
    std::uint64_t totalBytes = 0;
    for (const TensorView& t : tensors) {
        const std::uint64_t bytes = *byteCount(t.dtype, t.shape);
        if (maxShardBytes > 0 && !shards.back().empty() && shardBytes + bytes > maxShardBytes) {
            shards.emplace_back();
            shardBytes = 0;
        }
        shards.back().push_back(t);
        shardBytes += bytes;
        totalBytes += bytes;
    }

    const fs::path dir(folder);
    std::set<std::string> keep;
    if (shards.size() == 1) {
        writeSafetensors((dir / kSingleFile).string(), tensors, metadata);
        keep.insert(kSingleFile);
    } else {
        json weightMap = json::object();
        for (std::size_t i = 0; i < shards.size(); ++i) {
            const std::string name = shardFileName(i + 1, shards.size());
            writeSafetensors((dir / name).string(), shards[i], metadata);
            keep.insert(name);
            for (const TensorView& t : shards[i]) weightMap[t.name] = name;
        }
        const json index = {{"metadata", {{"total_size", totalBytes}}}, {"weight_map", weightMap}};
        const std::string text = index.dump(2) + "\n";
        writeFileAtomically((dir / kIndexFile).string(), {{text.data(), text.size()}});
        keep.insert(kIndexFile);
    }
    removeStaleCheckpointFiles(dir, keep);
}

// ---- SafetensorsCheckpoint ----------------------------------------------------------------------

SafetensorsCheckpoint SafetensorsCheckpoint::open(const std::string& folder) {
    const fs::path dir(folder);
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw InputError(folder + ": not a folder");

    SafetensorsCheckpoint checkpoint;
    std::map<std::string, std::string> weightMap;
    const std::string indexPath = (dir / kIndexFile).string();
    if (fs::is_regular_file(dir / kSingleFile, ec)) {
        checkpoint.m_files.push_back(SafetensorsFile::open((dir / kSingleFile).string()));
    } else if (fs::is_regular_file(indexPath, ec)) {
        checkpoint.m_indexed = true;
        weightMap = readIndex(indexPath);
        std::set<std::string> shardNames;  // sorted, so shard 1 comes first
        for (const auto& entry : weightMap) shardNames.insert(entry.second);
        for (const std::string& name : shardNames) {
            if (!fs::is_regular_file(dir / name, ec))
                throw InputError(indexPath + ": shard '" + name + "' is missing from the folder");
            checkpoint.m_files.push_back(SafetensorsFile::open((dir / name).string()));
        }
    } else {
        throw InputError(folder + ": no " + kSingleFile + " or " + kIndexFile + " in the folder");
    }

    for (std::size_t i = 0; i < checkpoint.m_files.size(); ++i) {
        for (const TensorInfo& t : checkpoint.m_files[i].tensors()) {
            const auto [it, added] = checkpoint.m_fileOfTensor.emplace(t.name, i);
            if (!added)
                throw InputError(folder + ": tensor '" + t.name + "' is stored in both " +
                                 checkpoint.m_files[it->second].path() + " and " +
                                 checkpoint.m_files[i].path());
            checkpoint.m_names.push_back(t.name);
        }
    }
    for (const auto& [name, file] : weightMap) {
        const auto it = checkpoint.m_fileOfTensor.find(name);
        if (it == checkpoint.m_fileOfTensor.end() ||
            fs::path(checkpoint.m_files[it->second].path()).filename() != file)
            throw InputError(indexPath + ": tensor '" + name + "' is not in shard '" + file +
                             "' as the index says");
    }
    return checkpoint;
}

bool SafetensorsCheckpoint::contains(const std::string& name) const {
    return m_fileOfTensor.count(name) > 0;
}

const TensorInfo& SafetensorsCheckpoint::info(const std::string& name) const {
    const auto it = m_fileOfTensor.find(name);
    if (it == m_fileOfTensor.end()) {
        const std::string folder =
            m_files.empty() ? "checkpoint" : fs::path(m_files[0].path()).parent_path().string();
        throw InputError(folder + ": no tensor named '" + name + "'");
    }
    return *m_files[it->second].find(name);
}

const std::uint8_t* SafetensorsCheckpoint::data(const std::string& name) const {
    const TensorInfo& tensor = info(name);  // throws InputError naming a missing tensor
    return m_files[m_fileOfTensor.at(name)].data(tensor);
}

const std::string& SafetensorsCheckpoint::fileOf(const std::string& name) const {
    info(name);  // throws InputError naming a missing tensor
    return m_files[m_fileOfTensor.at(name)].path();
}

const std::map<std::string, std::string>& SafetensorsCheckpoint::metadata() const {
    static const std::map<std::string, std::string> kNone;
    return m_files.empty() ? kNone : m_files.front().metadata();
}

std::uint64_t SafetensorsCheckpoint::totalTensorBytes() const {
    std::uint64_t total = 0;
    for (const SafetensorsFile& file : m_files)
        for (const TensorInfo& t : file.tensors()) total += t.byteSize();
    return total;
}

}  // namespace gqa
