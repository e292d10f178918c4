// SPDX-License-Identifier: GPL-3.0-or-later
#pragma once
// The special-token settings a model folder's tokenizer_config.json gives: whether encoding adds
// BOS ("add_bos_token") and EOS ("add_eos_token"). Keys that are absent, null or not booleans
// leave the tokenizer's defaults (Tokenizer: BOS on, EOS off, as LlamaTokenizer); every other key
// of the file (chat templates, token strings) is not used by the conversion. Torch-free, so that
// the parser is fuzzed on its own (tests/fuzz/fuzz_tokenizersettings.cpp).

#include <optional>
#include <string>

namespace gqa {

struct TokenizerSettings {
    std::optional<bool> addBos;
    std::optional<bool> addEos;
};

/// The settings in `jsonText`; InputError naming `origin` when it is not a JSON object.
TokenizerSettings parseTokenizerSettings(const std::string& jsonText, const std::string& origin);

}  // namespace gqa
