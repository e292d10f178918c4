// SPDX-License-Identifier: GPL-3.0-or-later
#include "runfile.h"

#include <fcntl.h>
#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <mutex>
#include <sstream>

#include <H5Cpp.h>

#include "error.h"

namespace gqa {
namespace fs = std::filesystem;

namespace {

constexpr const char* kModelGroup = "model";
constexpr const char* kCalibrationGroup = "calibration";
constexpr const char* kTrainingGroup = "training";

void silenceHdf5() { H5::Exception::dontPrint(); }  // per thread; cheap to repeat

/// HDF5's C++ API is not thread-safe (only Debian's C library is built so): every HDF5 call of
/// this file runs under this lock.
std::recursive_mutex& hdf5Mutex() {
    static std::recursive_mutex mutex;
    return mutex;
}

/// Runs `f`, turning HDF5 exceptions into InputError (reading a file the user gave) or Error.
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

bool hasLink(const H5::Group& g, const std::string& name) {
    return H5Lexists(g.getId(), name.c_str(), H5P_DEFAULT) > 0;
}

H5::StrType utf8String() {
    H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
    t.setCset(H5T_CSET_UTF8);
    return t;
}

void writeString(H5::H5Object& obj, const std::string& name, const std::string& value) {
    if (obj.attrExists(name)) obj.removeAttr(name);
    const H5::StrType t = utf8String();
    obj.createAttribute(name, t, H5::DataSpace(H5S_SCALAR)).write(t, value);
}

std::string readString(const H5::H5Object& obj, const std::string& name) {
    H5::Attribute a = obj.openAttribute(name);
    std::string value;
    a.read(a.getStrType(), value);
    return value;
}

void writeInt(H5::H5Object& obj, const std::string& name, std::int64_t value) {
    if (obj.attrExists(name)) obj.removeAttr(name);
    obj.createAttribute(name, H5::PredType::STD_I64LE, H5::DataSpace(H5S_SCALAR))
        .write(H5::PredType::NATIVE_INT64, &value);
}

std::int64_t readInt(const H5::H5Object& obj, const std::string& name) {
    std::int64_t value = 0;
    obj.openAttribute(name).read(H5::PredType::NATIVE_INT64, &value);
    return value;
}

void writeStrings(H5::H5Object& obj, const std::string& name, const std::vector<std::string>& v) {
    std::vector<const char*> ptrs;
    for (const std::string& s : v) ptrs.push_back(s.c_str());
    const hsize_t n = ptrs.size();
    const H5::StrType t = utf8String();
    if (obj.attrExists(name)) obj.removeAttr(name);
    H5::Attribute a = obj.createAttribute(name, t, H5::DataSpace(1, &n));
    if (n > 0) a.write(t, ptrs.data());  // HDF5 refuses a null buffer, even for no elements
}

std::vector<std::string> readStrings(const H5::H5Object& obj, const std::string& name) {
    H5::Attribute a = obj.openAttribute(name);
    const H5::DataSpace space = a.getSpace();
    std::vector<char*> buf(std::size_t(space.getSimpleExtentNpoints()), nullptr);
    if (buf.empty()) return {};
    const H5::StrType t = utf8String();
    a.read(t, buf.data());
    std::vector<std::string> out(buf.begin(), buf.end());
    H5Dvlen_reclaim(t.getId(), space.getId(), H5P_DEFAULT, buf.data());
    return out;
}

void writeMatrix(H5::Group& g, const std::string& name, const torch::Tensor& m) {
    const torch::Tensor c = m.detach().to(torch::kCPU, torch::kFloat64).contiguous();
    const hsize_t dims[2] = {hsize_t(c.size(0)), hsize_t(c.size(1))};
    g.createDataSet(name, H5::PredType::IEEE_F64LE, H5::DataSpace(2, dims))
        .write(c.data_ptr<double>(), H5::PredType::NATIVE_DOUBLE);
}

torch::Tensor readMatrix(const H5::Group& g, const std::string& name, std::int64_t n,
                         const std::string& where) {
    H5::DataSet ds = g.openDataSet(name);
    const H5::DataSpace space = ds.getSpace();
    hsize_t dims[2] = {0, 0};
    const bool isMatrix = space.getSimpleExtentNdims() == 2;
    if (isMatrix) space.getSimpleExtentDims(dims);
    if (!isMatrix || std::int64_t(dims[0]) != n || std::int64_t(dims[1]) != n)
        throw InputError(where + "/" + name + ": expected a [" + std::to_string(n) + ", " +
                         std::to_string(n) + "] matrix");
    torch::Tensor out = torch::empty({n, n}, torch::kFloat64);
    ds.read(out.data_ptr<double>(), H5::PredType::NATIVE_DOUBLE);
    return out;
}

void writeGram(H5::Group& parent, const std::string& name, const GramStatistics& s) {
    H5::Group g = parent.createGroup(name);
    writeInt(g, "heads", s.heads);
    writeInt(g, "head_dim", s.headDim);
    writeInt(g, "tokens", s.tokens);
    writeInt(g, "rope_planes_only", s.ropePlanesOnly ? 1 : 0);
    writeMatrix(g, "raw", s.raw);
    writeMatrix(g, "normalized", s.normalized);
}

GramStatistics readGram(const H5::Group& parent, const std::string& name,
                        const std::string& where) {
    H5::Group g = parent.openGroup(name);
    GramStatistics s;
    s.heads = readInt(g, "heads");
    s.headDim = readInt(g, "head_dim");
    s.tokens = readInt(g, "tokens");
    s.ropePlanesOnly = g.attrExists("rope_planes_only") && readInt(g, "rope_planes_only") != 0;
    if (s.heads <= 0 || s.headDim <= 0 || s.tokens < 0)
        throw InputError(where + "/" + name + ": invalid heads/head_dim/tokens");
    s.raw = readMatrix(g, "raw", s.heads * s.headDim, where + "/" + name);
    s.normalized = readMatrix(g, "normalized", s.heads * s.headDim, where + "/" + name);
    return s;
}

/// A float64 dataset of any shape (zero-sized dimensions allowed), `values` in C order.
void writeDoubles(H5::Group& g, const std::string& name, const std::vector<hsize_t>& dims,
                  const std::vector<double>& values) {
    H5::DataSet ds = g.createDataSet(name, H5::PredType::IEEE_F64LE,
                                     H5::DataSpace(int(dims.size()), dims.data()));
    if (!values.empty()) ds.write(values.data(), H5::PredType::NATIVE_DOUBLE);
}

struct Doubles {
    std::vector<hsize_t> dims;
    std::vector<double> values;  ///< C order
};

/// Reads a numeric dataset of the given rank as float64; InputError (naming `where`/`name`) when
/// it is missing, not numeric or of another rank.
Doubles readDoubles(const H5::Group& g, const std::string& name, int rank,
                    const std::string& where) {
    if (!hasLink(g, name)) throw InputError(where + "/" + name + ": missing");
    H5::DataSet ds = g.openDataSet(name);
    const H5T_class_t cls = ds.getTypeClass();
    const H5::DataSpace space = ds.getSpace();
    if ((cls != H5T_FLOAT && cls != H5T_INTEGER) || space.getSimpleExtentNdims() != rank)
        throw InputError(where + "/" + name + ": expected a " + std::to_string(rank) +
                         "-dimensional numeric dataset");
    Doubles out;
    out.dims.resize(std::size_t(rank));
    space.getSimpleExtentDims(out.dims.data());
    out.values.resize(std::size_t(space.getSimpleExtentNpoints()));
    if (!out.values.empty()) ds.read(out.values.data(), H5::PredType::NATIVE_DOUBLE);
    return out;
}

std::string layerGroupName(std::size_t layer) {
    char name[32];
    std::snprintf(name, sizeof name, "layer_%03zu", layer);
    return name;
}

void writeRootMarker(H5::H5File& file) {
    H5::Group root = file.openGroup("/");
    writeString(root, "format", RunFile::kFormat);
    writeInt(root, "format_version", RunFile::kFormatVersion);
    writeString(root, "writer", std::string("GQA Studio ") + GQA_VERSION);
}

void syncFile(const std::string& path) {
    const int fd = ::open(path.c_str(), O_RDONLY);
    if (fd >= 0) {
        ::fsync(fd);
        ::close(fd);
    }
}

/// The crash-safe stage write: builds `<path>.tmp` from the marker, a copy of every top-level
/// group of the current file except `stage`, and the new `stage` group written by `write`; then
/// renames it over `path`. Copying group by group (instead of the file) also drops the space a
/// replaced stage occupied.
void writeStage(const std::string& path, const std::string& stage,
                const std::function<void(H5::Group&)>& write) {
    const std::string tmp = path + ".tmp";
    guarded(path, false, [&] {
        std::error_code ec;
        fs::remove(tmp, ec);
        {
            H5::H5File out(tmp, H5F_ACC_TRUNC);
            writeRootMarker(out);
            if (fs::exists(path)) {
                H5::H5File in(path, H5F_ACC_RDONLY);
                for (hsize_t i = 0; i < in.getNumObjs(); ++i) {
                    const std::string name = in.getObjnameByIdx(i);
                    if (name == stage) continue;
                    if (H5Ocopy(in.getId(), name.c_str(), out.getId(), name.c_str(), H5P_DEFAULT,
                                H5P_DEFAULT) < 0)
                        throw Error(path + ": cannot copy group /" + name);
                }
            }
            if (!stage.empty()) {
                H5::Group g = out.createGroup("/" + stage);
                write(g);
            }
            out.close();
        }
        syncFile(tmp);
        fs::rename(tmp, path);
    });
}

CalibrationSettings readSettings(const H5::Group& g) {
    CalibrationSettings s;
    s.inputFiles = readStrings(g, "input_files");
    s.inputChecksum = readString(g, "input_checksum");
    s.numSequences = readInt(g, "num_sequences");
    s.sequenceLength = readInt(g, "sequence_length");
    s.batchSize = readInt(g, "batch_size");
    s.tokens = readInt(g, "tokens");
    return s;
}

}  // namespace

std::string modelChecksum(const std::string& folder) {
    std::vector<std::string> files;
    std::error_code ec;
    for (const auto& entry : fs::directory_iterator(folder, ec))
        if (entry.is_regular_file() && entry.path().extension() == ".safetensors")
            files.push_back(entry.path().string());
    if (ec) throw InputError(folder + ": cannot list the model folder (" + ec.message() + ")");
    if (files.empty()) throw InputError(folder + ": no .safetensors files to identify the model");
    std::sort(files.begin(), files.end());
    return filesChecksum(files);
}

ModelIdentity modelIdentity(const std::string& folder) {
    const std::string configPath = (fs::path(folder) / "config.json").string();
    std::ifstream in(configPath, std::ios::binary);
    if (!in) throw InputError(configPath + ": cannot open (no such file or not readable)");
    std::ostringstream text;
    text << in.rdbuf();
    return {text.str(), fs::absolute(folder).lexically_normal().string(), modelChecksum(folder)};
}

RunFile RunFile::create(const std::string& path) {
    std::error_code ec;
    fs::remove(path, ec);
    writeStage(path, "", {});
    return RunFile(path);
}

RunFile RunFile::open(const std::string& path) {
    if (!fs::exists(path)) throw InputError(path + ": no such run file");
    const bool isHdf5 = guarded(path, true, [&] { return H5Fis_hdf5(path.c_str()) > 0; });
    if (!isHdf5) throw InputError(path + ": not an HDF5 file (GQA Studio run files are HDF5)");
    guarded(path, true, [&] {
        H5::H5File file(path, H5F_ACC_RDONLY);
        H5::Group root = file.openGroup("/");
        if (!root.attrExists("format") || readString(root, "format") != kFormat)
            throw InputError(path + ": not a GQA Studio run file (no format = \"" +
                             std::string(kFormat) + "\" marker)");
        const std::int64_t version =
            root.attrExists("format_version") ? readInt(root, "format_version") : 0;
        if (version > kFormatVersion)
            throw InputError(path + ": written by a newer GQA Studio (run-file format version " +
                             std::to_string(version) + "; this version reads up to " +
                             std::to_string(kFormatVersion) + ")");
        if (version < 1) throw InputError(path + ": invalid run-file format_version");
    });
    return RunFile(path);
}

void RunFile::writeModelIdentity(const ModelIdentity& identity) {
    writeStage(m_path, kModelGroup, [&](H5::Group& g) {
        writeString(g, "config_json", identity.configJson);
        writeString(g, "model_folder", identity.modelFolder);
        writeString(g, "checksum", identity.checksum);
    });
}

bool RunFile::hasModelIdentity() const {
    return guarded(m_path, true, [&] {
        H5::H5File file(m_path, H5F_ACC_RDONLY);
        return hasLink(file, kModelGroup);
    });
}

ModelIdentity RunFile::readModelIdentity() const {
    return guarded(m_path, true, [&] {
        H5::H5File file(m_path, H5F_ACC_RDONLY);
        if (!hasLink(file, kModelGroup)) throw InputError(m_path + ": no model identity recorded");
        H5::Group g = file.openGroup(kModelGroup);
        return ModelIdentity{readString(g, "config_json"), readString(g, "model_folder"),
                             readString(g, "checksum")};
    });
}

void RunFile::writeCalibration(const CalibrationSettings& settings,
                               const std::vector<LayerStatistics>& layers) {
    writeStage(m_path, kCalibrationGroup, [&](H5::Group& g) {
        writeStrings(g, "input_files", settings.inputFiles);
        writeString(g, "input_checksum", settings.inputChecksum);
        writeInt(g, "num_sequences", settings.numSequences);
        writeInt(g, "sequence_length", settings.sequenceLength);
        writeInt(g, "batch_size", settings.batchSize);
        writeInt(g, "tokens", settings.tokens);
        writeInt(g, "num_layers", std::int64_t(layers.size()));
        for (std::size_t l = 0; l < layers.size(); ++l) {
            H5::Group layer = g.createGroup(layerGroupName(l));
            writeGram(layer, "keys", layers[l].keys);
            writeGram(layer, "values", layers[l].values);
        }
    });
}

bool RunFile::hasCalibration() const {
    return guarded(m_path, true, [&] {
        H5::H5File file(m_path, H5F_ACC_RDONLY);
        return hasLink(file, kCalibrationGroup);
    });
}

StoredCalibration RunFile::readCalibration() const {
    return guarded(m_path, true, [&] {
        H5::H5File file(m_path, H5F_ACC_RDONLY);
        if (!hasLink(file, kCalibrationGroup))
            throw InputError(m_path + ": no calibration recorded");
        H5::Group g = file.openGroup(kCalibrationGroup);
        StoredCalibration out;
        out.settings = readSettings(g);
        const std::int64_t numLayers = readInt(g, "num_layers");
        for (std::int64_t l = 0; l < numLayers; ++l) {
            const std::string name = layerGroupName(std::size_t(l));
            const std::string where = m_path + ": /calibration/" + name;
            H5::Group layer = g.openGroup(name);
            out.layers.push_back(
                {readGram(layer, "keys", where), readGram(layer, "values", where)});
        }
        return out;
    });
}

bool RunFile::calibrationMatches(const ModelIdentity& model,
                                 const CalibrationSettings& settings) const {
    if (!hasModelIdentity() || !hasCalibration()) return false;
    const ModelIdentity stored = readModelIdentity();
    if (stored.checksum != model.checksum || stored.configJson != model.configJson) return false;
    const CalibrationSettings have = guarded(m_path, true, [&] {
        H5::H5File file(m_path, H5F_ACC_RDONLY);
        return readSettings(file.openGroup(kCalibrationGroup));
    });
    if (have.inputFiles != absoluteInputPaths(settings.inputFiles)) return false;
    if (!have.inputChecksum.empty() && !settings.inputChecksum.empty() &&
        have.inputChecksum != settings.inputChecksum)
        return false;
    return have.numSequences == settings.numSequences &&
           have.sequenceLength == settings.sequenceLength;
}

bool RunFile::calibrationMatches(const std::string& modelFolder,
                                 const CalibrationSettings& settings) const {
    return calibrationMatches(modelIdentity(modelFolder), settings);
}

void RunFile::writeTrainingHistory(const TrainingHistory& history,
                                   const std::vector<std::pair<std::int64_t, double>>& validation,
                                   const std::string& settingsJson) {
    const std::size_t n = history.rows.size(), m = history.metricNames.size();
    const std::int64_t gateWidth = history.layers * history.heads;
    if (history.layers < 0 || history.heads < 0 || history.gates.size() != n)
        throw Error(m_path + ": training history with " + std::to_string(n) + " metric rows but " +
                    std::to_string(history.gates.size()) + " gate rows");
    std::vector<double> metrics, gates, steps;
    metrics.reserve(n * m);
    gates.reserve(n * std::size_t(gateWidth));
    for (std::size_t i = 0; i < n; ++i) {
        if (history.rows[i].size() != m || std::int64_t(history.gates[i].size()) != gateWidth)
            throw Error(m_path + ": training history row " + std::to_string(i) +
                        " does not match its metric names or layers x heads");
        metrics.insert(metrics.end(), history.rows[i].begin(), history.rows[i].end());
        gates.insert(gates.end(), history.gates[i].begin(), history.gates[i].end());
    }
    for (const auto& [step, loss] : validation) {
        steps.push_back(double(step));
        steps.push_back(loss);
    }
    writeStage(m_path, kTrainingGroup, [&](H5::Group& g) {
        writeString(g, "settings_json", settingsJson);
        writeStrings(g, "metric_names", history.metricNames);
        writeDoubles(g, "metrics", {n, m}, metrics);
        writeDoubles(g, "gates", {n, hsize_t(history.layers), hsize_t(history.heads)}, gates);
        writeDoubles(g, "validation", {validation.size(), 2}, steps);
    });
}

bool RunFile::hasTrainingHistory() const {
    return guarded(m_path, true, [&] {
        H5::H5File file(m_path, H5F_ACC_RDONLY);
        return hasLink(file, kTrainingGroup);
    });
}

RunFile::StoredTraining RunFile::readTrainingHistory() const {
    return guarded(m_path, true, [&] {
        H5::H5File file(m_path, H5F_ACC_RDONLY);
        if (!hasLink(file, kTrainingGroup))
            throw InputError(m_path + ": no training history recorded");
        H5::Group g = file.openGroup(kTrainingGroup);
        const std::string where = m_path + ": /training";
        StoredTraining out;
        out.settingsJson = readString(g, "settings_json");
        TrainingHistory& h = out.history;
        h.metricNames = readStrings(g, "metric_names");
        const Doubles metrics = readDoubles(g, "metrics", 2, where);
        const Doubles gates = readDoubles(g, "gates", 3, where);
        const Doubles validation = readDoubles(g, "validation", 2, where);
        const std::size_t n = metrics.dims[0], m = metrics.dims[1];
        if (m != h.metricNames.size())
            throw InputError(where + "/metrics has " + std::to_string(m) +
                             " columns but metric_names lists " +
                             std::to_string(h.metricNames.size()) + " names");
        if (gates.dims[0] != n)
            throw InputError(where + "/gates has " + std::to_string(gates.dims[0]) +
                             " rows but /training/metrics has " + std::to_string(n));
        if (validation.dims[1] != 2)
            throw InputError(where + "/validation: expected [K, 2] (step, loss) columns");
        h.layers = std::int64_t(gates.dims[1]);
        h.heads = std::int64_t(gates.dims[2]);
        const std::size_t gw = gates.dims[1] * gates.dims[2];
        for (std::size_t i = 0; i < n; ++i) {
            h.rows.emplace_back(metrics.values.begin() + std::ptrdiff_t(i * m),
                                metrics.values.begin() + std::ptrdiff_t((i + 1) * m));
            h.gates.emplace_back(gates.values.begin() + std::ptrdiff_t(i * gw),
                                 gates.values.begin() + std::ptrdiff_t((i + 1) * gw));
        }
        for (std::size_t k = 0; k < validation.dims[0]; ++k) {
            const double step = validation.values[2 * k];
            if (!(step >= 0 && step < 9.0e15) || step != std::floor(step))
                throw InputError(where + "/validation: step " + std::to_string(step) + " in row " +
                                 std::to_string(k) + " is not a non-negative whole number");
            out.validation.emplace_back(std::int64_t(step), validation.values[2 * k + 1]);
        }
        return out;
    });
}

void createPlainHdf5File(const std::string& path) {
    guarded(path, false, [&] {
        H5::H5File file(path, H5F_ACC_TRUNC);
        H5::Group g = file.createGroup("/something_else");
        writeString(g, "note", "an HDF5 file that is not a GQA Studio run file");
    });
}

void setRunFileFormatVersion(const std::string& path, std::int64_t version) {
    guarded(path, false, [&] {
        H5::H5File file(path, H5F_ACC_RDWR);
        H5::Group root = file.openGroup("/");
        writeInt(root, "format_version", version);
    });
}

void setTrainingMetricNames(const std::string& path, const std::vector<std::string>& names) {
    guarded(path, false, [&] {
        H5::H5File file(path, H5F_ACC_RDWR);
        H5::Group g = file.openGroup(kTrainingGroup);
        writeStrings(g, "metric_names", names);
    });
}

}  // namespace gqa
