// safetensors: memory-mapped reader (single file or sharded checkpoint) and streaming writer.
//
// File layout (https://github.com/huggingface/safetensors): an 8-byte little-endian header length
// N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str:
// str}}, then the data section. Offsets are relative to the data section; ranges must tile it
// exactly (no overlap, no hole). Everything the reader accepts has been checked against these
// rules.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "slim/io/mapped_file.h"

namespace slim::io {

enum class Dtype {
  F64,
  F32,
  F16,
  BF16,
  I64,
  I32,
  I16,
  I8,
  U8,
  BOOL,
  U16,
  U32,
  U64,
  F8_E4M3,
  F8_E5M2,
  F8_E8M0,  // no ATen equivalent in libtorch 1.13: read as raw bytes
};

// Name in safetensors headers ("BF16"), bytes per element, and the ATen type when one exists.
const char* dtype_name(Dtype dtype);
size_t dtype_size(Dtype dtype);
std::optional<at::ScalarType> dtype_scalar_type(Dtype dtype);
std::optional<Dtype> parse_dtype(const std::string& name);
// Throws slim::Error for ATen types safetensors cannot store.
Dtype dtype_from_scalar_type(at::ScalarType type);

struct TensorInfo {
  std::string name;
  Dtype dtype = Dtype::F32;
  std::vector<int64_t> shape;
  uint64_t begin = 0;  // byte range inside the data section
  uint64_t end = 0;

  uint64_t nbytes() const { return end - begin; }
  int64_t numel() const;
};

// One .safetensors file. Construction validates the whole header; accessors never read outside
// the mapping.
class SafetensorsFile {
 public:
  static std::shared_ptr<SafetensorsFile> open(const std::string& path);

  const std::string& path() const { return file_->path(); }
  // In data-offset order.
  const std::vector<TensorInfo>& tensors() const { return tensors_; }
  const std::map<std::string, std::string>& metadata() const { return metadata_; }
  bool contains(const std::string& name) const { return index_.count(name) != 0; }
  // Throws slim::Error naming the file and tensor when absent.
  const TensorInfo& info(const std::string& name) const;

  // A view of the tensor's bytes (zero-copy; copied only when the bytes are not aligned for the
  // element type). F8 dtypes come back as uint8 with the same shape; see info().dtype.
  // U16/U32/U64 have no ATen type and must be read with raw_bytes().
  at::Tensor tensor(const std::string& name) const;
  // The tensor's bytes as a 1-D uint8 view.
  at::Tensor raw_bytes(const std::string& name) const;
  const uint8_t* data(const TensorInfo& info) const { return data_start_ + info.begin; }
  // Drops the process's mapped pages of the tensor (MappedFile::release): for streaming readers,
  // once every view of it is done with.
  void release(const std::string& name) const;

 private:
  SafetensorsFile() = default;
  void parse_header();

  std::shared_ptr<MappedFile> file_;
  const uint8_t* data_start_ = nullptr;
  uint64_t data_size_ = 0;
  std::vector<TensorInfo> tensors_;
  std::unordered_map<std::string, size_t> index_;
  std::map<std::string, std::string> metadata_;
};

// A checkpoint: one file, or shards listed by a `*.safetensors.index.json`.
class SafetensorsCheckpoint {
 public:
  // `path` is a directory (model.safetensors.index.json, model.safetensors, or else every
  // *.safetensors in it), an index .json, or a single .safetensors file.
  static SafetensorsCheckpoint open(const std::string& path);

  const std::vector<std::string>& names() const { return names_; }  // sorted
  bool contains(const std::string& name) const { return where_.count(name) != 0; }
  const TensorInfo& info(const std::string& name) const;
  at::Tensor tensor(const std::string& name) const;
  at::Tensor raw_bytes(const std::string& name) const;
  // See SafetensorsFile::release.
  void release(const std::string& name) const;
  const SafetensorsFile& file_of(const std::string& name) const;
  const std::vector<std::shared_ptr<SafetensorsFile>>& files() const { return files_; }
  // The index file, when sharded ("" otherwise), and its "metadata" object.
  const std::string& index_path() const { return index_path_; }
  const std::map<std::string, std::string>& index_metadata() const { return index_metadata_; }
  uint64_t total_bytes() const;

 private:
  void add_file(std::shared_ptr<SafetensorsFile> file);
  static SafetensorsCheckpoint open_index(const std::string& index_path);

  std::vector<std::shared_ptr<SafetensorsFile>> files_;
  std::unordered_map<std::string, size_t> where_;  // tensor -> files_ position
  std::vector<std::string> names_;
  std::string index_path_;
  std::map<std::string, std::string> index_metadata_;
};

struct SafetensorsWriterOptions {
  std::string basename = "model";  // model.safetensors, model-00001-of-00002.safetensors, ...
  uint64_t max_shard_bytes = 0;    // 0: one file. Else a shard closes before it would exceed this
                                   // (a larger single tensor gets a shard of its own).
  bool always_index = false;       // write the index (and shard names) even for one shard
  std::map<std::string, std::string> metadata;  // "__metadata__" of every shard
};

// Streams tensors to disk in the order given, holding at most one tensor in memory. Each shard's
// data goes to a temporary file first (the header, written first in the final file, depends on
// every tensor of the shard). Nothing with a final name exists until finish(); the destructor of
// an unfinished writer removes its temporary files.
class SafetensorsWriter {
 public:
  SafetensorsWriter(std::string directory, SafetensorsWriterOptions options = {});
  ~SafetensorsWriter();
  SafetensorsWriter(const SafetensorsWriter&) = delete;
  SafetensorsWriter& operator=(const SafetensorsWriter&) = delete;

  void add(const std::string& name, const at::Tensor& tensor);
  void add_raw(const std::string& name, Dtype dtype, const std::vector<int64_t>& shape,
               const void* bytes, uint64_t nbytes);
  // Writes the final files and the index (when sharded); returns the file names written
  // (shards first, index last), relative to the directory.
  std::vector<std::string> finish();

  std::string index_name() const { return options_.basename + ".safetensors.index.json"; }

 private:
  struct Shard {
    std::string data_path;   // temporary data section
    std::string final_temp;  // header + data, before its final name is known
    std::vector<TensorInfo> tensors;
    uint64_t bytes = 0;
  };
  void open_shard();
  void close_shard();
  void remove_temporaries() noexcept;

  std::string directory_;
  SafetensorsWriterOptions options_;
  std::vector<Shard> shards_;
  std::FILE* data_file_ = nullptr;
  std::map<std::string, bool> seen_;
  bool finished_ = false;
};

}  // namespace slim::io
