#include <array>

#include "io/tokenizer/components.h"
#include "io/tokenizer/unicode.h"
#include "slim/core/error.h"

namespace slim::io::tok {

void Vocabulary::add(const std::string& token, TokenId id) {
  SLIM_CHECK(id >= 0, "token ", quote(token), " has a negative id ", id);
  ids_[token] = id;
  if (static_cast<size_t>(id) >= tokens_.size()) {
    tokens_.resize(static_cast<size_t>(id) + 1);
    has_.resize(static_cast<size_t>(id) + 1, false);
  }
  tokens_[id] = token;
  has_[id] = true;
}

const json& require_key(const json& object, const char* key, const std::string& where) {
  SLIM_CHECK(object.is_object() && object.contains(key), where, ": missing key '", key, "'");
  return object.at(key);
}

std::string string_or(const json& object, const char* key, const std::string& fallback,
                      const std::string& where) {
  if (!object.contains(key) || object.at(key).is_null()) return fallback;
  SLIM_CHECK(object.at(key).is_string(), where, ": key '", key, "' must be a string, found ",
             object.at(key).dump());
  return object.at(key).get<std::string>();
}

bool bool_or(const json& object, const char* key, bool fallback, const std::string& where) {
  if (!object.contains(key) || object.at(key).is_null()) return fallback;
  SLIM_CHECK(object.at(key).is_boolean(), where, ": key '", key, "' must be true or false, found ",
             object.at(key).dump());
  return object.at(key).get<bool>();
}

namespace {

// GPT-2's bytes_to_unicode: printable Latin-1 bytes map to themselves, the others to U+0100 on.
struct ByteMap {
  std::array<std::string, 256> to_unicode;
  std::unordered_map<std::string, int> to_byte;
  ByteMap() {
    int next = 256;
    for (int byte = 0; byte < 256; ++byte) {
      const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
                             (byte >= 0xAE && byte <= 0xFF);
      const char32_t code = printable ? static_cast<char32_t>(byte) : static_cast<char32_t>(next++);
      to_unicode[byte] = encode_utf8(code);
      to_byte[to_unicode[byte]] = byte;
    }
  }
};

const ByteMap& byte_map() {
  static const ByteMap map;
  return map;
}

}  // namespace

const std::string& byte_to_unicode(unsigned char byte) {
  return byte_map().to_unicode[byte];
}

int unicode_to_byte(std::string_view character) {
  const auto& map = byte_map().to_byte;
  const auto it = map.find(std::string(character));
  return it == map.end() ? -1 : it->second;
}

}  // namespace slim::io::tok
