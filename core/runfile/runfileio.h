// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Internal to the run file (runfile.cpp, runfileevaluation.cpp): the HDF5 helpers both write
// with, and the crash-safe stage write described in runfile.h. Not a public header: it includes
// HDF5's C++ API, which nothing outside these files needs.

#include <cstdint>
#include <functional>
#include <mutex>
#include <string>
#include <vector>

#include <H5Cpp.h>

#include "base/error.h"

namespace gqa::runfileio {

/// HDF5's C++ API is not thread-safe (only Debian's C library is built so): every HDF5 call of
/// the run file runs under this lock.
std::recursive_mutex& hdf5Mutex();
void silenceHdf5();  ///< per thread; cheap to repeat

/// Runs `f` under the lock, turning HDF5 exceptions into InputError (reading a file the user
/// gave) or Error, both naming `path`.
template <class F>
auto guarded(const std::string& path, bool reading, F&& f) -> decltype(f()) {
    std::lock_guard<std::recursive_mutex> lock(hdf5Mutex());
    silenceHdf5();
    try {
        return f();
    } catch (const H5::Exception& e) {
        const std::string what =
            path + ": HDF5 error in " + e.getFuncName() + ": " + e.getDetailMsg();
        if (reading) throw InputError(what + " (damaged or not a GQA Studio run file?)");
        throw Error(what);
    }
}

bool hasLink(const H5::Group& g, const std::string& name);

// Scalar and string-array attributes (replaced when present).
void writeString(H5::H5Object& obj, const std::string& name, const std::string& value);
std::string readString(const H5::H5Object& obj, const std::string& name);
void writeInt(H5::H5Object& obj, const std::string& name, std::int64_t value);
std::int64_t readInt(const H5::H5Object& obj, const std::string& name);
void writeDouble(H5::H5Object& obj, const std::string& name, double value);
double readDouble(const H5::H5Object& obj, const std::string& name);
void writeStrings(H5::H5Object& obj, const std::string& name, const std::vector<std::string>& v);
std::vector<std::string> readStrings(const H5::H5Object& obj, const std::string& name);

/// A float64 dataset of any shape (zero-sized dimensions allowed), `values` in C order.
void writeDoubles(H5::Group& g, const std::string& name, const std::vector<hsize_t>& dims,
                  const std::vector<double>& values);

struct Doubles {
    std::vector<hsize_t> dims;
    std::vector<double> values;  ///< C order
};

/// Reads a numeric dataset of the given rank as float64; InputError (naming `where`/`name`) when
/// it is missing, not numeric or of another rank.
Doubles readDoubles(const H5::Group& g, const std::string& name, int rank,
                    const std::string& where);

/// The crash-safe stage write: builds `<path>.tmp` from the format marker, a copy of every
/// top-level group of the current file except `stage`, and the group `stage` filled by `write`;
/// then renames it over `path`. `append`: the current `stage` group is copied too and `write`
/// adds to it (an append-only record such as /evaluation). An empty `stage` writes only the
/// marker and the copies.
void writeStage(const std::string& path, const std::string& stage,
                const std::function<void(H5::Group&)>& write, bool append = false);

}  // namespace gqa::runfileio
