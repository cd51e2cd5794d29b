// GGUF (llama.cpp's model and vocabulary container): memory-mapped reader for versions 2 and 3,
// little-endian.
//
// File layout (ggml's gguf.h / docs/gguf.md): magic "GGUF", uint32 version, uint64 tensor count,
// uint64 metadata count; metadata entries {string key, uint32 value type, value}; tensor infos
// {string name, uint32 n_dims, uint64 dims[n_dims], uint32 ggml type, uint64 offset}; padding to
// `general.alignment` (default 32); the data section. Strings are a uint64 byte length and the
// bytes; arrays are a uint32 element type, a uint64 count and the elements (no arrays of arrays).
// Tensor offsets are relative to the data section and multiples of the alignment.
//
// Everything the reader accepts has been checked against the file's size: no count read from the
// file allocates memory before the bytes it describes are known to exist. Values stay in the
// mapping and are decoded by the typed getters, whose errors name the file and the key.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "slim/io/mapped_file.h"

namespace slim::io {

// Metadata value types (numbering of the file format).
enum class GgufType : uint32_t {
  UINT8 = 0,
  INT8 = 1,
  UINT16 = 2,
  INT16 = 3,
  UINT32 = 4,
  INT32 = 5,
  FLOAT32 = 6,
  BOOL = 7,
  STRING = 8,
  ARRAY = 9,
  UINT64 = 10,
  INT64 = 11,
  FLOAT64 = 12,
};

// "uint32", "string", ...; "type N" for numbers outside the format.
std::string gguf_type_name(GgufType type);
// Bytes of one value of a fixed-size metadata type; 0 for STRING and ARRAY.
uint64_t gguf_value_size(GgufType type);

// ggml tensor types (numbering of ggml.h). Numbers that ggml removed are not listed.
enum class GgmlType : uint32_t {
  F32 = 0,
  F16 = 1,
  Q4_0 = 2,
  Q4_1 = 3,
  Q5_0 = 6,
  Q5_1 = 7,
  Q8_0 = 8,
  Q8_1 = 9,
  Q2_K = 10,
  Q3_K = 11,
  Q4_K = 12,
  Q5_K = 13,
  Q6_K = 14,
  Q8_K = 15,
  IQ2_XXS = 16,
  IQ2_XS = 17,
  IQ3_XXS = 18,
  IQ1_S = 19,
  IQ4_NL = 20,
  IQ3_S = 21,
  IQ2_S = 22,
  IQ4_XS = 23,
  I8 = 24,
  I16 = 25,
  I32 = 26,
  I64 = 27,
  F64 = 28,
  IQ1_M = 29,
  BF16 = 30,
  TQ1_0 = 34,
  TQ2_0 = 35,
  MXFP4 = 39,
};

// What the reader knows of a ggml type. A type's bytes are (elements / block_size) * block_bytes;
// block_bytes == 0 means the layout is not implemented yet (such tensors are listed, with their
// byte size unknown).
struct GgmlTypeTraits {
  GgmlType type;
  const char* name;  // ggml's name: "f32", "q4_K", ...
  uint32_t block_size;
  uint32_t block_bytes;
};

// nullopt for numbers that are not (or no longer) ggml types.
std::optional<GgmlTypeTraits> ggml_type_traits(uint32_t type);
// "bf16", or "type N" for unknown numbers.
std::string ggml_type_name(uint32_t type);

struct GgufTensorInfo {
  std::string name;
  std::vector<int64_t> dims;  // ggml order: dims[0] varies fastest
  GgmlType type = GgmlType::F32;
  uint64_t offset = 0;             // inside the data section; a multiple of the alignment
  std::optional<uint64_t> nbytes;  // unknown when the type's layout is not implemented
  int64_t numel() const;
};

class GgufFile {
 public:
  // Throws slim::Error naming the file and what is wrong (field, key or tensor, offset).
  static std::shared_ptr<GgufFile> open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  uint32_t version() const { return version_; }
  uint64_t alignment() const { return alignment_; }
  // File offset of the data section (0 when there are no tensors).
  uint64_t data_offset() const { return data_offset_; }

  // ------------------------------------------------------------------------------ metadata
  // Keys in file order.
  const std::vector<std::string>& keys() const { return key_order_; }
  bool contains(const std::string& key) const { return kv_.count(key) != 0; }
  // Type of the value (ARRAY for arrays) and, for arrays, of their elements; throw when absent.
  GgufType type_of(const std::string& key) const;
  GgufType array_type_of(const std::string& key) const;
  uint64_t array_size(const std::string& key) const;

  // Each getter throws slim::Error naming the file and key when the key is missing or has another
  // type (the message shows both types). The _opt variants return nullopt for a missing key and
  // still throw for a wrong type.
  std::string get_string(const std::string& key) const;
  bool get_bool(const std::string& key) const;
  uint32_t get_u32(const std::string& key) const;
  int32_t get_i32(const std::string& key) const;
  uint64_t get_u64(const std::string& key) const;
  float get_f32(const std::string& key) const;
  // Any integer type, widened; throws for a uint64 beyond INT64_MAX.
  int64_t get_int(const std::string& key) const;

  std::optional<std::string> get_string_opt(const std::string& key) const;
  std::optional<bool> get_bool_opt(const std::string& key) const;
  std::optional<uint32_t> get_u32_opt(const std::string& key) const;
  std::optional<int32_t> get_i32_opt(const std::string& key) const;
  std::optional<float> get_f32_opt(const std::string& key) const;
  std::optional<int64_t> get_int_opt(const std::string& key) const;

  std::vector<std::string> get_array_strings(const std::string& key) const;
  std::vector<float> get_array_f32(const std::string& key) const;
  std::vector<int32_t> get_array_i32(const std::string& key) const;
  std::vector<uint8_t> get_array_u8(const std::string& key) const;
  // Elements of any integer type, widened.
  std::vector<int64_t> get_array_int(const std::string& key) const;

  // -------------------------------------------------------------------------------- tensors
  // In file order.
  const std::vector<GgufTensorInfo>& tensors() const { return tensors_; }
  bool has_tensor(const std::string& name) const { return tensor_index_.count(name) != 0; }
  // Throws slim::Error naming the file and tensor when absent.
  const GgufTensorInfo& tensor(const std::string& name) const;
  // First byte of the tensor's data inside the mapping (its nbytes, when known, are in range).
  const uint8_t* tensor_data(const GgufTensorInfo& info) const {
    return file_->data() + data_offset_ + info.offset;
  }
  const MappedFile& mapped_file() const { return *file_; }

 private:
  struct Kv {
    GgufType type = GgufType::UINT8;
    GgufType element_type = GgufType::UINT8;  // for arrays
    uint64_t count = 1;                       // array elements; 1 for scalars
    uint64_t offset = 0;                      // file offset of the value (array: first element)
  };

  GgufFile() = default;
  void parse();
  const Kv& find(const std::string& key) const;
  const Kv* find_opt(const std::string& key) const;
  const Kv& expect_scalar(const std::string& key, GgufType type) const;
  const Kv& expect_array(const std::string& key, GgufType element_type) const;
  template <typename T>
  T scalar_at(const Kv& kv) const;
  int64_t integer_at(const std::string& key, GgufType type, uint64_t offset) const;

  std::shared_ptr<MappedFile> file_;
  uint32_t version_ = 0;
  uint64_t alignment_ = 32;
  uint64_t data_offset_ = 0;
  std::unordered_map<std::string, Kv> kv_;
  std::vector<std::string> key_order_;
  std::vector<GgufTensorInfo> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
};

}  // namespace slim::io
