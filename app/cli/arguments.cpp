// SPDX-License-Identifier: GPL-3.0-or-later
#include "arguments.h"

#include <sstream>

#include "base/error.h"

namespace gqa::cli {

Arguments::Arguments(std::string command, std::string summary, std::vector<std::string> positionals,
                     std::vector<OptionSpec> options)
    : m_command(std::move(command)),
      m_summary(std::move(summary)),
      m_positionalNames(std::move(positionals)),
      m_options(std::move(options)) {}

const OptionSpec& Arguments::spec(const std::string& name) const {
    for (const auto& o : m_options)
        if (o.name == name) return o;
    throw InputError("gqa-cli " + m_command + ": unknown option '--" + name + "' (see gqa-cli " +
                     m_command + " --help)");
}

void Arguments::parse(const std::vector<std::string>& args) {
    for (std::size_t i = 0; i < args.size(); ++i) {
        const std::string& a = args[i];
        if (a == "--help" || a == "-h") {
            m_help = true;
            return;
        }
        if (a.rfind("--", 0) != 0 || a.size() == 2) {
            m_positionalValues.push_back(a);
            continue;
        }
        std::string name = a.substr(2), value;
        const auto eq = name.find('=');
        const bool inlineValue = eq != std::string::npos;
        if (inlineValue) {
            value = name.substr(eq + 1);
            name = name.substr(0, eq);
        }
        const OptionSpec& s = spec(name);
        if (s.valueName.empty()) {
            if (inlineValue)
                throw InputError("gqa-cli " + m_command + ": --" + name + " takes no value");
        } else if (!inlineValue) {
            if (i + 1 >= args.size())
                throw InputError("gqa-cli " + m_command + ": --" + name + " needs a value (" +
                                 s.valueName + ")");
            value = args[++i];
        }
        m_values[name] = value;
    }
    const bool variadic =
        !m_positionalNames.empty() && m_positionalNames.back().size() > 3 &&
        m_positionalNames.back().compare(m_positionalNames.back().size() - 3, 3, "...") == 0;
    const bool countOk = variadic ? m_positionalValues.size() >= m_positionalNames.size()
                                  : m_positionalValues.size() == m_positionalNames.size();
    if (!countOk) {
        std::string expected;
        for (const auto& p : m_positionalNames) expected += " <" + p + ">";
        throw InputError("gqa-cli " + m_command + ": expected" +
                         (expected.empty() ? std::string(" no arguments") : expected) + ", got " +
                         std::to_string(m_positionalValues.size()) + " (see --help)");
    }
}

bool Arguments::has(const std::string& name) const {
    spec(name);
    return m_values.count(name) > 0;
}

std::string Arguments::text(const std::string& name) const {
    const OptionSpec& s = spec(name);
    auto it = m_values.find(name);
    return it != m_values.end() ? it->second : s.defaultValue;
}

std::int64_t Arguments::integer(const std::string& name) const {
    const std::string v = text(name);
    std::size_t used = 0;
    long long n = 0;
    try {
        n = std::stoll(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (v.empty() || used != v.size())
        throw InputError("gqa-cli " + m_command + ": --" + name + " expects an integer, got '" + v +
                         "'");
    return n;
}

double Arguments::number(const std::string& name) const {
    const std::string v = text(name);
    std::size_t used = 0;
    double n = 0;
    try {
        n = std::stod(v, &used);
    } catch (const std::exception&) {
        used = 0;
    }
    if (v.empty() || used != v.size())
        throw InputError("gqa-cli " + m_command + ": --" + name + " expects a number, got '" + v +
                         "'");
    return n;
}

std::string Arguments::helpText() const {
    std::ostringstream s;
    s << "usage: gqa-cli " << m_command;
    for (const auto& p : m_positionalNames) s << " <" << p << ">";
    s << " [options]\n\n" << m_summary << "\n\noptions:\n";
    for (const auto& o : m_options) {
        std::string left = "  --" + o.name + (o.valueName.empty() ? "" : " " + o.valueName);
        s << left << std::string(left.size() < 28 ? 28 - left.size() : 1, ' ') << o.help;
        if (!o.defaultValue.empty()) s << " (default: " << o.defaultValue << ")";
        s << "\n";
    }
    s << "  --help                    show this help\n";
    return s.str();
}

}  // namespace gqa::cli
