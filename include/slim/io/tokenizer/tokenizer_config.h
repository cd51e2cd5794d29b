// tokenizer_config.json: the special tokens and the BOS/EOS switches that sit beside a tokenizer.
#pragma once

#include <optional>
#include <string>

namespace slim::io {

struct TokenizerConfig {
  std::optional<std::string> bos_token;
  std::optional<std::string> eos_token;
  std::optional<std::string> pad_token;
  std::optional<std::string> unk_token;
  std::optional<bool> add_bos_token;
  std::optional<bool> add_eos_token;
  std::string tokenizer_class;
};

// Reads `directory`/tokenizer_config.json; all fields empty when the file does not exist.
// Token fields may be strings or {"content": ...} objects, as transformers writes them.
TokenizerConfig load_tokenizer_config(const std::string& directory);

}  // namespace slim::io
