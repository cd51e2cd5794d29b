// Hugging Face tokenizer.json.
#pragma once

#include <memory>
#include <string>

#include "slim/io/tokenizer/tokenizer.h"
#include "slim/io/tokenizer/tokenizer_config.h"

namespace slim::io {

// `path` is the tokenizer.json file; `config` comes from tokenizer_config.json beside it (its
// add_bos_token / add_eos_token, when present, rebuild the post-processor's template as
// transformers' Llama tokenizers do). Throws slim::Error naming the file and the component on
// anything malformed or unsupported.
std::unique_ptr<Tokenizer> load_hf_tokenizer(const std::string& path,
                                             const TokenizerConfig& config);

}  // namespace slim::io
