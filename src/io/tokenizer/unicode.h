// UTF-8 helpers shared by the tokenizers (private to src/io/tokenizer).
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

namespace slim::io::tok {

// Length of the UTF-8 sequence starting with `lead` (1 for invalid lead bytes).
inline size_t utf8_sequence_length(unsigned char lead) {
  if (lead < 0x80) return 1;
  if ((lead & 0xE0) == 0xC0) return 2;
  if ((lead & 0xF0) == 0xE0) return 3;
  if ((lead & 0xF8) == 0xF0) return 4;
  return 1;
}

// Replaces every byte that is not part of a valid UTF-8 sequence by U+FFFD.
std::string sanitize_utf8(std::string_view text);
// Splits valid UTF-8 into its characters (views into `text`).
std::vector<std::string_view> utf8_characters(std::string_view text);
// Decodes one valid UTF-8 character.
char32_t decode_utf8(std::string_view character);
std::string encode_utf8(char32_t code_point);
// Unicode normalization forms through utf8proc; `form` is "NFC", "NFD", "NFKC" or "NFKD".
std::string normalize_unicode(std::string_view text, const std::string& form);
std::string lowercase(std::string_view text);
bool is_whitespace(char32_t code_point);

}  // namespace slim::io::tok
