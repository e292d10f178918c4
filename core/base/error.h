// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// Error types of the core library.
//
// Every failure a user can cause (a bad file, a bad option) is an InputError whose message names
// the file or field and what is wrong with it; the CLI maps it to its "bad input" exit code.
// Cancelled is thrown when a ProgressSink asks an operation to stop. Anything else is a bug or an
// environment failure and surfaces as a plain Error.

#include <stdexcept>
#include <string>

namespace gqa {

class Error : public std::runtime_error {
public:
    explicit Error(const std::string& message) : std::runtime_error(message) {}
};

/// The input (file, configuration, option) is invalid; the message says which and why.
class InputError : public Error {
public:
    explicit InputError(const std::string& message) : Error(message) {}
};

/// The user cancelled a long operation through its ProgressSink.
class Cancelled : public Error {
public:
    explicit Cancelled(const std::string& stage = "operation") : Error(stage + " cancelled") {}
};

}  // namespace gqa
