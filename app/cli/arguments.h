// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// A small command-line parser: declared options (`--name value` or `--name=value`, flags without a
// value) and positional arguments, generated help text, and InputErrors for anything undeclared,
// missing or malformed, so every subcommand refuses bad input the same way. A last positional
// name ending in "..." takes one or more values (`eval MODEL...`).

#include <map>
#include <optional>
#include <string>
#include <vector>

namespace gqa::cli {

struct OptionSpec {
    std::string name;       ///< without the leading dashes
    std::string valueName;  ///< empty for flags
    std::string help;
    std::string defaultValue;  ///< shown in help; used when absent
};

class Arguments {
public:
    Arguments(std::string command, std::string summary, std::vector<std::string> positionals,
              std::vector<OptionSpec> options);

    /// Parses argv after the subcommand. Throws InputError on unknown options, missing values,
    /// or a wrong number of positional arguments. `--help` sets helpRequested() instead.
    void parse(const std::vector<std::string>& args);

    bool helpRequested() const { return m_help; }
    std::string helpText() const;

    const std::string& positional(std::size_t i) const { return m_positionalValues.at(i); }
    std::size_t positionalCount() const { return m_positionalValues.size(); }
    bool has(const std::string& name) const;
    std::string text(const std::string& name) const;
    std::int64_t integer(const std::string& name) const;
    double number(const std::string& name) const;
    bool flag(const std::string& name) const { return has(name); }

private:
    const OptionSpec& spec(const std::string& name) const;

    std::string m_command, m_summary;
    std::vector<std::string> m_positionalNames;
    std::vector<OptionSpec> m_options;
    std::vector<std::string> m_positionalValues;
    std::map<std::string, std::string> m_values;
    bool m_help = false;
};

}  // namespace gqa::cli
