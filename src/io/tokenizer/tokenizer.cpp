#include "slim/io/tokenizer/tokenizer.h"

#include <ATen/Parallel.h>

#include <filesystem>

#include <cstdlib>

#include "slim/core/error.h"
#include "slim/io/gguf.h"
#include "slim/io/tokenizer/gguf_tokenizer.h"
#include "slim/io/tokenizer/hf_tokenizer.h"
#include "slim/io/tokenizer/sentencepiece.h"
#include "slim/io/tokenizer/tokenizer_config.h"

namespace slim::io {

namespace fs = std::filesystem;

std::vector<std::vector<TokenId>> Tokenizer::encode_batch(const std::vector<std::string>& texts,
                                                          bool add_special_tokens) const {
  std::vector<std::vector<TokenId>> results(texts.size());
  at::parallel_for(0, static_cast<int64_t>(texts.size()), 1, [&](int64_t begin, int64_t end) {
    for (int64_t i = begin; i < end; ++i)
      results[i] = encode(texts[i], add_special_tokens);
  });
  return results;
}

namespace {

// A GGUF file's vocabulary, rebuilt as Hugging Face tokenizer files in a temporary directory and
// loaded from there (the loaders keep what they need in memory; the directory goes at once).
std::unique_ptr<Tokenizer> load_gguf_tokenizer(const std::string& path) {
  const auto gguf = GgufFile::open(path);
  std::string pattern = (fs::temp_directory_path() / "slim-gguf-tokenizer-XXXXXX").string();
  SLIM_CHECK(::mkdtemp(pattern.data()) != nullptr, path,
             ": cannot create a temporary directory for its tokenizer");
  struct Remove {
    std::string dir;
    ~Remove() {
      std::error_code ignored;
      fs::remove_all(dir, ignored);
    }
  } remove{pattern};
  write_hf_tokenizer(*gguf, pattern);
  return load_tokenizer(pattern);
}

}  // namespace

std::unique_ptr<Tokenizer> load_tokenizer(const std::string& path) {
  SLIM_CHECK(fs::exists(path), path, ": no such file or directory");
  if (!fs::is_directory(path) && fs::path(path).extension() == ".gguf")
    return load_gguf_tokenizer(path);
  fs::path directory = fs::is_directory(path) ? fs::path(path) : fs::path(path).parent_path();
  if (directory.empty()) directory = ".";
  const TokenizerConfig config = load_tokenizer_config(directory.string());
  fs::path file;
  if (fs::is_directory(path)) {
    if (fs::exists(directory / "tokenizer.json")) {
      file = directory / "tokenizer.json";
    } else if (fs::exists(directory / "tokenizer.model")) {
      file = directory / "tokenizer.model";
    } else {
      SLIM_FAIL(path, ": no tokenizer.json or tokenizer.model in this directory");
    }
  } else {
    file = path;
  }
  if (file.extension() == ".json") return load_hf_tokenizer(file.string(), config);
  if (file.extension() == ".model") {
    return load_sentencepiece(file.string(), config.add_bos_token, config.add_eos_token);
  }
  SLIM_FAIL(path, ": not a tokenizer file (expected tokenizer.json or tokenizer.model)");
}

}  // namespace slim::io
