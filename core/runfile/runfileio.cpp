// SPDX-License-Identifier: GPL-3.0-or-later
#include "runfile/runfileio.h"

#include <fcntl.h>
#include <unistd.h>

#include <filesystem>

#include "runfile/runfile.h"

namespace gqa::runfileio {
namespace fs = std::filesystem;

namespace {
H5::StrType utf8String() {
    H5::StrType t(H5::PredType::C_S1, H5T_VARIABLE);
    t.setCset(H5T_CSET_UTF8);
    return t;
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
}  // namespace

std::recursive_mutex& hdf5Mutex() {
    static std::recursive_mutex mutex;
    return mutex;
}

void silenceHdf5() { H5::Exception::dontPrint(); }

bool hasLink(const H5::Group& g, const std::string& name) {
    return H5Lexists(g.getId(), name.c_str(), H5P_DEFAULT) > 0;
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

void writeDouble(H5::H5Object& obj, const std::string& name, double value) {
    if (obj.attrExists(name)) obj.removeAttr(name);
    obj.createAttribute(name, H5::PredType::IEEE_F64LE, H5::DataSpace(H5S_SCALAR))
        .write(H5::PredType::NATIVE_DOUBLE, &value);
}

double readDouble(const H5::H5Object& obj, const std::string& name) {
    double value = 0.0;
    obj.openAttribute(name).read(H5::PredType::NATIVE_DOUBLE, &value);
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

void writeDoubles(H5::Group& g, const std::string& name, const std::vector<hsize_t>& dims,
                  const std::vector<double>& values) {
    H5::DataSet ds = g.createDataSet(name, H5::PredType::IEEE_F64LE,
                                     H5::DataSpace(int(dims.size()), dims.data()));
    if (!values.empty()) ds.write(values.data(), H5::PredType::NATIVE_DOUBLE);
}

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

void writeStage(const std::string& path, const std::string& stage,
                const std::function<void(H5::Group&)>& write, bool append) {
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
                    if (name == stage && !append) continue;
                    if (H5Ocopy(in.getId(), name.c_str(), out.getId(), name.c_str(), H5P_DEFAULT,
                                H5P_DEFAULT) < 0)
                        throw Error(path + ": cannot copy group /" + name);
                }
            }
            if (!stage.empty()) {
                H5::Group g =
                    hasLink(out, stage) ? out.openGroup("/" + stage) : out.createGroup("/" + stage);
                write(g);
            }
            out.close();
        }
        syncFile(tmp);
        fs::rename(tmp, path);
    });
}

}  // namespace gqa::runfileio
