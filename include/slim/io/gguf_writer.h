// GGUF writer: version 3, little-endian, streaming.
//
// The layout is the one gguf.h describes (header, metadata, tensor infos, padding to the
// alignment, data section). Everything before the data section depends only on the metadata and on
// the tensors' names, types and shapes, so the writer takes those first, writes the header in
// write_header(), and then streams each tensor's bytes as they are produced: memory holds one
// tensor at a time, whatever the model size.
//
//   GgufWriter out("model.gguf");
//   out.set_string("general.architecture", "llama");
//   out.add_tensor_info("token_embd.weight", GgmlType::F16, {vocab, hidden});   // row-major shape
//   out.write_header();
//   out.write_tensor("token_embd.weight", embedding_f16);                      // in add order
//   out.finish();                                                               // rename into
//   place
//
// Shapes: add_tensor_info takes the row-major shape (PyTorch's order, outermost dimension first)
// and stores it reversed, as ggml's ne[] (ne[0], the fastest-varying dimension, first): a
// [rows, cols] matrix is written as dims {cols, rows}. The reader's GgufTensorInfo::dims are in
// ggml order.
//
// Alignment: `general.alignment` (uint32, default 32) is always written, as the first key. The
// data section starts at the first multiple of it after the tensor infos, every tensor's offset is
// a multiple of it, and each tensor's data is zero-padded to it (the last one included).
//
// Tensor types: any ggml type whose block layout the type table of gguf.h knows (block_bytes != 0);
// a tensor's byte size is (elements / block_size) * block_bytes and its innermost dimension must be
// a multiple of the block size. write_tensor_data takes the encoded bytes of any such type (a
// quantizer adds a type by producing its blocks); write_tensor takes an ATen tensor for the plain
// types (F32, F16, BF16, F64, I8, I16, I32, I64).
//
// Output is atomic: bytes go to "<path>.tmp-<pid>-<n>" beside the target, renamed into place by
// finish(). An existing target is refused unless `overwrite`. Destroying an unfinished writer
// removes the temporary file. Errors throw slim::Error naming the file and the key or tensor.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <cstdio>
#include <string>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "slim/io/gguf.h"

namespace slim::io {

struct GgufWriterOptions {
  uint32_t alignment = 32;  // written as general.alignment; a power of two
  bool overwrite = false;   // replace an existing file at the target path
};

class GgufWriter {
 public:
  explicit GgufWriter(std::string path, GgufWriterOptions options = {});
  ~GgufWriter();
  GgufWriter(const GgufWriter&) = delete;
  GgufWriter& operator=(const GgufWriter&) = delete;

  const std::string& path() const { return path_; }
  uint32_t alignment() const { return options_.alignment; }

  // ------------------------------------------------------------------ metadata (before header)
  // Entries are written in the order they are set; setting a key twice is an error.
  void set_u8(const std::string& key, uint8_t value);
  void set_i8(const std::string& key, int8_t value);
  void set_u16(const std::string& key, uint16_t value);
  void set_i16(const std::string& key, int16_t value);
  void set_u32(const std::string& key, uint32_t value);
  void set_i32(const std::string& key, int32_t value);
  void set_u64(const std::string& key, uint64_t value);
  void set_i64(const std::string& key, int64_t value);
  void set_f32(const std::string& key, float value);
  void set_f64(const std::string& key, double value);
  void set_bool(const std::string& key, bool value);
  void set_string(const std::string& key, const std::string& value);

  // Arrays (possibly empty). set_array_int writes any integer element type and throws when a
  // value does not fit it.
  void set_array_int(const std::string& key, GgufType element, const std::vector<int64_t>& values);
  void set_array_u8(const std::string& key, const std::vector<uint8_t>& values);
  void set_array_i32(const std::string& key, const std::vector<int32_t>& values);
  void set_array_f32(const std::string& key, const std::vector<float>& values);
  void set_array_f64(const std::string& key, const std::vector<double>& values);
  void set_array_bool(const std::string& key, const std::vector<bool>& values);
  void set_array_strings(const std::string& key, const std::vector<std::string>& values);

  bool has_key(const std::string& key) const { return keys_.count(key) != 0; }
  uint64_t key_count() const { return kv_count_; }

  // ------------------------------------------------------------------- tensors (before header)
  // `shape` is row-major (outermost first), 1 to 4 dimensions, each positive. Returns the data
  // size in bytes. Throws for duplicate names, types whose layout is unknown, and innermost
  // dimensions that are not a multiple of the type's block size.
  uint64_t add_tensor_info(const std::string& name, GgmlType type,
                           const std::vector<int64_t>& shape);
  size_t tensor_count() const { return tensors_.size(); }

  // ----------------------------------------------------------------------------- writing
  // Creates the temporary file and writes everything up to the data section. No metadata or
  // tensor infos can be added afterwards.
  void write_header();
  // The next tensor's bytes, in the order the infos were added; `nbytes` must be its size.
  void write_tensor_data(const std::string& name, const void* data, uint64_t nbytes);
  // The next tensor from an ATen tensor whose dtype is the one the ggml type stores (F32: float,
  // F16: half, BF16: bfloat16, ...) and whose element count matches its shape.
  void write_tensor(const std::string& name, const at::Tensor& tensor);
  // Checks that every tensor was written, flushes, syncs and renames the file into place.
  void finish();

 private:
  struct Tensor {
    std::string name;
    GgmlType type;
    std::vector<int64_t> dims;  // ggml order
    uint64_t offset = 0;        // in the data section
    uint64_t nbytes = 0;
  };
  void begin_kv(const std::string& key, GgufType type);
  void check_open_for_definitions(const char* what) const;
  void write_bytes(const void* data, uint64_t n);
  void write_padding(uint64_t position);
  void remove_temporary() noexcept;

  std::string path_;
  std::string temp_path_;
  GgufWriterOptions options_;
  std::string metadata_;  // encoded entries
  uint64_t kv_count_ = 0;
  std::unordered_set<std::string> keys_;
  std::vector<Tensor> tensors_;
  std::unordered_map<std::string, size_t> tensor_index_;
  uint64_t data_bytes_ = 0;  // data section size so far (infos)
  std::FILE* file_ = nullptr;
  std::vector<char> buffer_;
  bool header_written_ = false;
  bool finished_ = false;
  size_t next_tensor_ = 0;
  uint64_t written_ = 0;  // bytes written to the file
};

}  // namespace slim::io
