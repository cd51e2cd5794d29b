// Builds whole GGUF files (metadata, tensor infos, aligned data) in memory for tests of what is
// read out of GGUF checkpoints. Tensor data are raw bytes in any ggml type; the builder lays them
// out at multiples of the alignment (32) as llama.cpp's writer does.
//
//   GgufBuilder gguf;
//   gguf.kv_string("general.architecture", "llama").kv_u32("llama.block_count", 1);
//   gguf.tensor("token_embd.weight", GgmlType::F32, {hidden, vocab}, f32_bytes(values));
//   slim::write_file(path, gguf.build());
#pragma once

#include <cstdint>
#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "slim/io/gguf.h"
#include "support/gguf_bytes.h"

namespace slim::testing {

class GgufBuilder {
 public:
  GgufBuilder& kv_string(const std::string& key, const std::string& value) {
    return kv([=](GgufBytes& b) { b.kv_string(key, value); });
  }
  GgufBuilder& kv_u32(const std::string& key, uint32_t value) {
    return kv([=](GgufBytes& b) { b.kv_u32(key, value); });
  }
  GgufBuilder& kv_f32(const std::string& key, float value) {
    return kv([=](GgufBytes& b) { b.text(key).type(slim::io::GgufType::FLOAT32).f32(value); });
  }
  GgufBuilder& kv_bool(const std::string& key, bool value) {
    return kv([=](GgufBytes& b) { b.kv_bool(key, value); });
  }
  GgufBuilder& kv_strings(const std::string& key, const std::vector<std::string>& values) {
    return kv([=](GgufBytes& b) { b.kv_strings(key, values); });
  }
  GgufBuilder& kv_i32s(const std::string& key, const std::vector<int32_t>& values) {
    return kv([=](GgufBytes& b) { b.kv_i32s(key, values); });
  }
  GgufBuilder& kv_f32s(const std::string& key, const std::vector<float>& values) {
    return kv([=](GgufBytes& b) { b.kv_f32s(key, values); });
  }
  // `dims` in ggml order (dims[0] fastest: {cols, rows} for a [rows, cols] matrix).
  GgufBuilder& tensor(const std::string& name, slim::io::GgmlType type, std::vector<int64_t> dims,
                      std::string bytes) {
    tensors_.push_back({name, type, std::move(dims), std::move(bytes)});
    return *this;
  }
  bool has_tensor(const std::string& name) const {
    for (const auto& t : tensors_) {
      if (t.name == name) return true;
    }
    return false;
  }
  GgufBuilder& remove_tensor(const std::string& name) {
    for (size_t i = 0; i < tensors_.size(); ++i) {
      if (tensors_[i].name == name) {
        tensors_.erase(tensors_.begin() + static_cast<std::ptrdiff_t>(i));
        break;
      }
    }
    return *this;
  }

  std::string build() const {
    GgufBytes b;
    b.header(tensors_.size(), kvs_.size());
    for (const auto& write : kvs_)
      write(b);
    uint64_t offset = 0;
    std::vector<uint64_t> offsets;
    for (const auto& t : tensors_) {
      b.text(t.name).u32(static_cast<uint32_t>(t.dims.size()));
      for (int64_t dim : t.dims)
        b.u64(static_cast<uint64_t>(dim));
      b.u32(static_cast<uint32_t>(t.type)).u64(offset);
      offsets.push_back(offset);
      offset = (offset + t.bytes.size() + kAlignment - 1) / kAlignment * kAlignment;
    }
    b.pad_to(kAlignment);
    for (const auto& t : tensors_) {
      b.raw(t.bytes.data(), t.bytes.size());
      b.pad_to(kAlignment);
    }
    return b.str();
  }

 private:
  static constexpr size_t kAlignment = 32;
  struct Tensor {
    std::string name;
    slim::io::GgmlType type;
    std::vector<int64_t> dims;
    std::string bytes;
  };
  GgufBuilder& kv(std::function<void(GgufBytes&)> write) {
    kvs_.push_back(std::move(write));
    return *this;
  }
  std::vector<std::function<void(GgufBytes&)>> kvs_;
  std::vector<Tensor> tensors_;
};

// Little-endian bytes of float32 values (an F32 tensor).
inline std::string f32_bytes(const std::vector<float>& values) {
  std::string bytes(values.size() * 4, '\0');
  std::memcpy(bytes.data(), values.data(), bytes.size());
  return bytes;
}

}  // namespace slim::testing
