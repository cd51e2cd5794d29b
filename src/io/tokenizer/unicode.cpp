#include "io/tokenizer/unicode.h"

#include <utf8proc.h>

#include <cstdlib>

#include "slim/core/error.h"
#include "slim/core/utf8.h"

namespace slim::io::tok {

std::string sanitize_utf8(std::string_view text) {
  std::string output;
  output.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    const size_t length = valid_utf8_length(text.substr(i));
    if (length == 0) {
      output += "\xEF\xBF\xBD";  // U+FFFD REPLACEMENT CHARACTER
      ++i;
    } else {
      output.append(text.data() + i, length);
      i += length;
    }
  }
  return output;
}

std::vector<std::string_view> utf8_characters(std::string_view text) {
  std::vector<std::string_view> characters;
  characters.reserve(text.size());
  size_t i = 0;
  while (i < text.size()) {
    size_t length = utf8_sequence_length(static_cast<unsigned char>(text[i]));
    if (i + length > text.size()) length = text.size() - i;
    characters.push_back(text.substr(i, length));
    i += length;
  }
  return characters;
}

char32_t decode_utf8(std::string_view character) {
  const auto* bytes = reinterpret_cast<const unsigned char*>(character.data());
  switch (character.size()) {
    case 1:
      return bytes[0];
    case 2:
      return ((bytes[0] & 0x1F) << 6) | (bytes[1] & 0x3F);
    case 3:
      return ((bytes[0] & 0x0F) << 12) | ((bytes[1] & 0x3F) << 6) | (bytes[2] & 0x3F);
    case 4:
      return ((bytes[0] & 0x07) << 18) | ((bytes[1] & 0x3F) << 12) | ((bytes[2] & 0x3F) << 6) |
             (bytes[3] & 0x3F);
    default:
      return 0xFFFD;
  }
}

std::string encode_utf8(char32_t code_point) {
  std::string out;
  if (code_point < 0x80) {
    out += static_cast<char>(code_point);
  } else if (code_point < 0x800) {
    out += static_cast<char>(0xC0 | (code_point >> 6));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else if (code_point < 0x10000) {
    out += static_cast<char>(0xE0 | (code_point >> 12));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (code_point >> 18));
    out += static_cast<char>(0x80 | ((code_point >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((code_point >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (code_point & 0x3F));
  }
  return out;
}

std::string normalize_unicode(std::string_view text, const std::string& form) {
  if (text.empty()) return std::string();
  int options = UTF8PROC_STABLE;
  if (form == "NFC") {
    options |= UTF8PROC_COMPOSE;
  } else if (form == "NFD") {
    options |= UTF8PROC_DECOMPOSE;
  } else if (form == "NFKC") {
    options |= UTF8PROC_COMPOSE | UTF8PROC_COMPAT;
  } else if (form == "NFKD") {
    options |= UTF8PROC_DECOMPOSE | UTF8PROC_COMPAT;
  } else {
    SLIM_FAIL("unknown Unicode normalization form ", quote(form));
  }
  utf8proc_uint8_t* result = nullptr;
  const utf8proc_ssize_t length = utf8proc_map(
      reinterpret_cast<const utf8proc_uint8_t*>(text.data()),
      static_cast<utf8proc_ssize_t>(text.size()), &result, static_cast<utf8proc_option_t>(options));
  SLIM_CHECK(length >= 0, "Unicode normalization failed: ", utf8proc_errmsg(length));
  std::string normalized(reinterpret_cast<char*>(result), static_cast<size_t>(length));
  std::free(result);
  return normalized;
}

std::string lowercase(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (auto character : utf8_characters(text)) {
    if (character.size() == 1) {
      const char c = character[0];
      out += (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
      continue;
    }
    out += encode_utf8(static_cast<char32_t>(utf8proc_tolower(decode_utf8(character))));
  }
  return out;
}

bool is_whitespace(char32_t code_point) {
  if (code_point == ' ' || code_point == '\t' || code_point == '\n' || code_point == '\r')
    return true;
  const auto category = utf8proc_category(static_cast<utf8proc_int32_t>(code_point));
  return category == UTF8PROC_CATEGORY_ZS;
}

}  // namespace slim::io::tok
