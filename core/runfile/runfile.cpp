// SPDX-License-Identifier: GPL-3.0-or-later
#include "runfile/runfile.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "base/error.h"
#include "runfile/runfileio.h"

namespace gqa {
namespace fs = std::filesystem;
using namespace runfileio;

namespace {

constexpr const char* kModelGroup = "model";
constexpr const char* kCalibrationGroup = "calibration";
constexpr const char* kTrainingGroup = "training";

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
    writeInt(g, "rotary_dims", s.rotaryDimensions());
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
    // Files written before partial rotary support: every dimension rotates.
    s.rotaryDims = g.attrExists("rotary_dims") ? readInt(g, "rotary_dims") : s.headDim;
    if (s.heads <= 0 || s.headDim <= 0 || s.tokens < 0 || s.rotaryDims <= 0 ||
        s.rotaryDims > s.headDim || s.rotaryDims % 2 != 0)
        throw InputError(where + "/" + name + ": invalid heads/head_dim/tokens/rotary_dims");
    s.raw = readMatrix(g, "raw", s.heads * s.headDim, where + "/" + name);
    s.normalized = readMatrix(g, "normalized", s.heads * s.headDim, where + "/" + name);
    return s;
}

std::string layerGroupName(std::size_t layer) {
    char name[32];
    std::snprintf(name, sizeof name, "layer_%03zu", layer);
    return name;
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
