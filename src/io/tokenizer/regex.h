// A compiled PCRE2 pattern in UTF + Unicode-property mode (so \p{L}, \s and lookahead behave as
// in the Oniguruma regexes Hugging Face tokenizers use), JIT-compiled when available.
#pragma once

#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace slim::io::tok {

class Regex {
 public:
  // Throws slim::Error with PCRE2's message and offset when the pattern does not compile.
  explicit Regex(const std::string& pattern);
  ~Regex();
  Regex(const Regex&) = delete;
  Regex& operator=(const Regex&) = delete;

  // Non-overlapping matches as [begin, end) byte ranges, left to right. Empty matches are skipped.
  // Thread-safe: each call uses its own match data.
  std::vector<std::pair<size_t, size_t>> find_all(std::string_view text) const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Escapes a literal string for use inside a pattern.
std::string regex_escape(const std::string& literal);

}  // namespace slim::io::tok
