// Builds GGUF files byte by byte (little-endian fields, GGUF strings, headers, padding) for tests
// of the reader and of what is read from GGUF vocabularies.
#pragma once

#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

#include "slim/io/gguf.h"

namespace slim::testing {

class GgufBytes {
 public:
  GgufBytes& u8(uint8_t v) { return raw(&v, 1); }
  GgufBytes& u16(uint16_t v) { return le(v, 2); }
  GgufBytes& u32(uint32_t v) { return le(v, 4); }
  GgufBytes& u64(uint64_t v) { return le(v, 8); }
  GgufBytes& i32(int32_t v) { return le(static_cast<uint32_t>(v), 4); }
  GgufBytes& f32(float v) {
    uint32_t bits;
    std::memcpy(&bits, &v, 4);
    return le(bits, 4);
  }
  GgufBytes& f64(double v) {
    uint64_t bits;
    std::memcpy(&bits, &v, 8);
    return le(bits, 8);
  }
  GgufBytes& text(const std::string& s) { return u64(s.size()).chars(s); }  // GGUF string
  GgufBytes& chars(const std::string& s) { return raw(s.data(), s.size()); }
  GgufBytes& type(slim::io::GgufType t) { return u32(static_cast<uint32_t>(t)); }
  GgufBytes& header(uint64_t tensors, uint64_t kvs, uint32_t version = 3) {
    return chars("GGUF").u32(version).u64(tensors).u64(kvs);
  }
  // Whole metadata entries.
  GgufBytes& kv_string(const std::string& key, const std::string& value) {
    return text(key).type(slim::io::GgufType::STRING).text(value);
  }
  GgufBytes& kv_u32(const std::string& key, uint32_t value) {
    return text(key).type(slim::io::GgufType::UINT32).u32(value);
  }
  GgufBytes& kv_bool(const std::string& key, bool value) {
    return text(key).type(slim::io::GgufType::BOOL).u8(value ? 1 : 0);
  }
  GgufBytes& kv_strings(const std::string& key, const std::vector<std::string>& values) {
    array_header(key, slim::io::GgufType::STRING, values.size());
    for (const auto& value : values)
      text(value);
    return *this;
  }
  GgufBytes& kv_f32s(const std::string& key, const std::vector<float>& values) {
    array_header(key, slim::io::GgufType::FLOAT32, values.size());
    for (float value : values)
      f32(value);
    return *this;
  }
  GgufBytes& kv_i32s(const std::string& key, const std::vector<int32_t>& values) {
    array_header(key, slim::io::GgufType::INT32, values.size());
    for (int32_t value : values)
      i32(value);
    return *this;
  }
  GgufBytes& kv_u8s(const std::string& key, const std::string& bytes) {
    array_header(key, slim::io::GgufType::UINT8, bytes.size());
    return chars(bytes);
  }
  GgufBytes& array_header(const std::string& key, slim::io::GgufType element, uint64_t count) {
    return text(key).type(slim::io::GgufType::ARRAY).type(element).u64(count);
  }
  GgufBytes& pad_to(size_t alignment) {
    while (data_.size() % alignment != 0)
      data_.push_back('\0');
    return *this;
  }
  GgufBytes& raw(const void* p, size_t n) {
    data_.append(static_cast<const char*>(p), n);
    return *this;
  }
  const std::string& str() const { return data_; }
  size_t size() const { return data_.size(); }

 private:
  GgufBytes& le(uint64_t v, int n) {
    for (int i = 0; i < n; ++i)
      data_.push_back(static_cast<char>((v >> (8 * i)) & 0xFF));
    return *this;
  }
  std::string data_;
};

}  // namespace slim::testing
