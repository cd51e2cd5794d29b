// llama.cpp's tokenizer test vectors: models/ggml-vocab-<name>.gguf.inp and .gguf.out, generated
// by llama.cpp's convert_hf_to_gguf_update.py from Hugging Face's tokenizer of the model.
//
// .inp holds the inputs, each followed by "\n__ggml_vocab_test__\n" (that newline is the
// separator's, not the input's; inputs may themselves be empty or contain newlines). .out holds
// one line per input: the ids without BOS/EOS (add_special_tokens=False), separated by spaces
// (each line starts with a space; an empty input has an empty line). This reads them the way
// llama.cpp's tests/test-tokenizer-0.cpp does.
#pragma once

#include <cstdint>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "slim/core/error.h"

namespace slim::testing {

struct VocabTestCase {
  std::string text;
  std::vector<int32_t> ids;
};

inline std::string read_whole_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  SLIM_CHECK(in, "cannot open ", quote(path));
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Throws slim::Error on unreadable files, an id that is not an integer, or when the two files
// disagree on the number of cases.
inline std::vector<VocabTestCase> read_llama_vocab_tests(const std::string& inp_path,
                                                         const std::string& out_path) {
  const std::string inputs = read_whole_file(inp_path);
  const std::string separator = "\n__ggml_vocab_test__\n";
  std::vector<VocabTestCase> cases;
  for (size_t pos = 0; pos < inputs.size();) {
    const size_t next = inputs.find(separator, pos);
    if (next == std::string::npos) {  // no separator after the last input
      cases.push_back({inputs.substr(pos), {}});
      break;
    }
    cases.push_back({inputs.substr(pos, next - pos), {}});
    pos = next + separator.size();
  }

  std::istringstream outputs(read_whole_file(out_path));
  size_t count = 0;
  for (std::string line; std::getline(outputs, line); ++count) {
    if (count >= cases.size()) continue;  // counted, reported below
    std::istringstream words(line);
    for (std::string word; words >> word;) {
      size_t used = 0;
      long long id = -1;
      try {
        id = std::stoll(word, &used);
      } catch (const std::exception&) {
      }
      SLIM_CHECK(used == word.size() && id >= 0 && id <= INT32_MAX, out_path, ":", count + 1,
                 ": expected a token id, found ", quote(word));
      cases[count].ids.push_back(static_cast<int32_t>(id));
    }
  }
  SLIM_CHECK(count == cases.size(), out_path, " has ", count, " lines but ", inp_path, " has ",
             cases.size(), " inputs");
  return cases;
}

}  // namespace slim::testing
