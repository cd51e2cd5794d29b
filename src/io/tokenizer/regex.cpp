#define PCRE2_CODE_UNIT_WIDTH 8
#include "io/tokenizer/regex.h"

#include <pcre2.h>

#include "slim/core/error.h"

namespace slim::io::tok {

struct Regex::Impl {
  pcre2_code* code = nullptr;
  bool jit = false;
};

Regex::Regex(const std::string& pattern) : impl_(std::make_unique<Impl>()) {
  int error_code = 0;
  PCRE2_SIZE error_offset = 0;
  impl_->code = pcre2_compile(reinterpret_cast<PCRE2_SPTR>(pattern.data()), pattern.size(),
                              PCRE2_UTF | PCRE2_UCP | PCRE2_NO_UTF_CHECK, &error_code,
                              &error_offset, nullptr);
  if (impl_->code == nullptr) {
    PCRE2_UCHAR message[256];
    pcre2_get_error_message(error_code, message, sizeof message);
    SLIM_FAIL("regular expression ", quote(pattern), " does not compile at offset ", error_offset,
              ": ", reinterpret_cast<const char*>(message));
  }
  impl_->jit = pcre2_jit_compile(impl_->code, PCRE2_JIT_COMPLETE) == 0;
}

Regex::~Regex() {
  if (impl_ && impl_->code) pcre2_code_free(impl_->code);
}

std::vector<std::pair<size_t, size_t>> Regex::find_all(std::string_view text) const {
  std::vector<std::pair<size_t, size_t>> matches;
  pcre2_match_data* data = pcre2_match_data_create_from_pattern(impl_->code, nullptr);
  SLIM_CHECK(data != nullptr, "out of memory creating regex match data");
  const auto* subject = reinterpret_cast<PCRE2_SPTR>(text.data());
  size_t offset = 0;
  while (offset <= text.size()) {
    // Input is valid UTF-8 (sanitized before tokenization): skip PCRE2's own check.
    const int rc = impl_->jit ? pcre2_jit_match(impl_->code, subject, text.size(), offset,
                                                PCRE2_NO_UTF_CHECK, data, nullptr)
                              : pcre2_match(impl_->code, subject, text.size(), offset,
                                            PCRE2_NO_UTF_CHECK, data, nullptr);
    if (rc == PCRE2_ERROR_NOMATCH) break;
    if (rc < 0) {
      pcre2_match_data_free(data);
      PCRE2_UCHAR message[256];
      pcre2_get_error_message(rc, message, sizeof message);
      SLIM_FAIL("regular expression match failed: ", reinterpret_cast<const char*>(message));
    }
    const PCRE2_SIZE* vector = pcre2_get_ovector_pointer(data);
    const size_t begin = vector[0];
    const size_t end = vector[1];
    if (end > begin) {
      matches.emplace_back(begin, end);
      offset = end;
    } else {
      // Empty match: step over one whole character.
      if (begin >= text.size()) break;
      size_t step = 1;
      while (begin + step < text.size() &&
             (static_cast<unsigned char>(text[begin + step]) & 0xC0) == 0x80) {
        ++step;
      }
      offset = begin + step;
    }
  }
  pcre2_match_data_free(data);
  return matches;
}

std::string regex_escape(const std::string& literal) {
  std::string out;
  for (char c : literal) {
    if (std::string("\\^$.|?*+()[]{}-/").find(c) != std::string::npos) out += '\\';
    out += c;
  }
  return out;
}

}  // namespace slim::io::tok
