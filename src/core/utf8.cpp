#include "slim/core/utf8.h"

#include <cstdint>

namespace slim {

size_t valid_utf8_length(std::string_view text) {
  if (text.empty()) return 0;
  const auto* bytes = reinterpret_cast<const unsigned char*>(text.data());
  const unsigned char lead = bytes[0];
  if (lead < 0x80) return 1;
  size_t length;
  uint32_t minimum;
  if ((lead & 0xE0) == 0xC0) {
    length = 2, minimum = 0x80;
  } else if ((lead & 0xF0) == 0xE0) {
    length = 3, minimum = 0x800;
  } else if ((lead & 0xF8) == 0xF0) {
    length = 4, minimum = 0x10000;
  } else {
    return 0;
  }
  if (text.size() < length) return 0;
  uint32_t code = lead & (0x7F >> length);
  for (size_t k = 1; k < length; ++k) {
    if ((bytes[k] & 0xC0) != 0x80) return 0;
    code = (code << 6) | (bytes[k] & 0x3F);
  }
  // Overlong forms, surrogates and values beyond U+10FFFF are invalid.
  if (code < minimum || code > 0x10FFFF || (code >= 0xD800 && code <= 0xDFFF)) return 0;
  return length;
}

}  // namespace slim
