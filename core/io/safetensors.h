// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Reading and writing safetensors files, and model folders made of them.
//
// Byte layout of a .safetensors file:
//   [0, 8)        N: unsigned 64-bit little-endian length of the header
//   [8, 8+N)      header: a UTF-8 JSON object. Each key is a tensor name mapping to
//                 {"dtype": "F32"|"F16"|"BF16"|..., "shape": [d0, d1, ...],
//                  "data_offsets": [begin, end]}; the optional key "__metadata__" maps to an
//                 object of string -> string. Writers pad the header with spaces to a multiple
//                 of 8.
//   [8+N, EOF)    data section: raw little-endian tensor bytes; a tensor's bytes are
//                 data[begin, end), offsets relative to the start of the data section.
//
// The reader memory-maps the file and validates everything before handing out a pointer: the
// header length against the file size (and a 100 MB bound), the JSON, known dtypes, non-negative
// shapes, offsets inside the data section, begin <= end, no two tensors overlapping, and
// numel(shape) * dtypeSize == end - begin. Every failure is a gqa::InputError that names the file
// and, where there is one, the tensor.
//
// Model folders hold either one `model.safetensors` or shards listed in
// `model.safetensors.index.json` ({"metadata": {"total_size": N}, "weight_map": {name: file}}).
// Writers never leave a half-written file: each file is written to a temporary name in the same
// folder, flushed and renamed into place; for sharded folders the index is renamed in last.

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "base/dtype.h"

namespace gqa {

/// Upper bound on the JSON header; larger headers are refused as corrupt (not a real checkpoint).
constexpr std::uint64_t kMaxSafetensorsHeaderBytes = 100ull * 1024 * 1024;

struct TensorInfo {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    std::uint64_t dataBegin = 0;  ///< offset in the data section
    std::uint64_t dataEnd = 0;
    std::int64_t numel() const;
    std::uint64_t byteSize() const { return dataEnd - dataBegin; }
};

/// A read-only, memory-mapped, validated safetensors file. Move-only.
class SafetensorsFile {
public:
    /// Opens and validates; throws InputError naming the file and the problem.
    static SafetensorsFile open(const std::string& path);

    SafetensorsFile(SafetensorsFile&&) noexcept;
    SafetensorsFile& operator=(SafetensorsFile&&) noexcept;
    SafetensorsFile(const SafetensorsFile&) = delete;
    SafetensorsFile& operator=(const SafetensorsFile&) = delete;
    ~SafetensorsFile();

    const std::string& path() const;
    /// Tensors in the order of their data offsets.
    const std::vector<TensorInfo>& tensors() const;
    /// nullptr when the file has no tensor of that name.
    const TensorInfo* find(const std::string& name) const;
    /// Pointer to the tensor's first byte (valid while this object lives).
    const std::uint8_t* data(const TensorInfo& tensor) const;
    const std::map<std::string, std::string>& metadata() const;
    std::uint64_t fileSize() const;

private:
    struct Impl;
    explicit SafetensorsFile(std::unique_ptr<Impl> impl);
    std::unique_ptr<Impl> m_impl;
};

/// A tensor to be written: `data` points at numel(shape) * dtypeSize(dtype) bytes.
struct TensorView {
    std::string name;
    DType dtype = DType::F32;
    std::vector<std::int64_t> shape;
    const void* data = nullptr;
};

/// Writes one safetensors file atomically (temporary file, flush, rename). Tensors are laid out
/// in the given order. Throws InputError for duplicate names and Error for I/O failures.
void writeSafetensors(const std::string& path, const std::vector<TensorView>& tensors,
                      const std::map<std::string, std::string>& metadata = {});

/// The tensors of a model folder, single-file or sharded, behind one name lookup.
class SafetensorsCheckpoint {
public:
    /// Opens `folder/model.safetensors` or, if absent, `folder/model.safetensors.index.json` and
    /// every shard it names. Throws InputError when neither exists, the index is malformed, it
    /// names a missing shard, a tensor is not in the shard the index says, or a name repeats.
    static SafetensorsCheckpoint open(const std::string& folder);

    bool sharded() const { return m_files.size() > 1 || m_indexed; }
    /// Tensor names, shard by shard, each shard in data-offset order.
    const std::vector<std::string>& names() const { return m_names; }
    bool contains(const std::string& name) const;
    /// Throws InputError naming the tensor when it is missing.
    const TensorInfo& info(const std::string& name) const;
    const std::uint8_t* data(const std::string& name) const;
    /// Path of the file holding the tensor.
    const std::string& fileOf(const std::string& name) const;
    /// Metadata of the first file.
    const std::map<std::string, std::string>& metadata() const;
    std::uint64_t totalTensorBytes() const;

private:
    std::vector<SafetensorsFile> m_files;
    std::map<std::string, std::size_t> m_fileOfTensor;
    std::vector<std::string> m_names;
    bool m_indexed = false;
};

/// Writes a model folder's tensors: `model.safetensors` when maxShardBytes == 0 or everything fits
/// in one shard, otherwise `model-0000i-of-0000n.safetensors` files of at most maxShardBytes each
/// (a single larger tensor gets a shard of its own) plus `model.safetensors.index.json`.
/// Files of the other layout left from an earlier save are removed after the new ones are in place.
void writeSafetensorsCheckpoint(const std::string& folder, const std::vector<TensorView>& tensors,
                                std::uint64_t maxShardBytes = 0,
                                const std::map<std::string, std::string>& metadata = {});

}  // namespace gqa
