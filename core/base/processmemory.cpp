// SPDX-License-Identifier: GPL-3.0-or-later
#include "base/processmemory.h"

#include <fstream>
#include <string>

namespace gqa {
namespace {
double statusFieldMb(const std::string& field) {
    std::ifstream in("/proc/self/status");
    std::string line;
    while (std::getline(in, line))
        if (line.rfind(field + ":", 0) == 0)
            return std::stod(line.substr(field.size() + 1)) / 1024.0;
    return 0.0;
}
}  // namespace

double peakResidentMemoryMb() { return statusFieldMb("VmHWM"); }
double residentMemoryMb() { return statusFieldMb("VmRSS"); }

}  // namespace gqa
