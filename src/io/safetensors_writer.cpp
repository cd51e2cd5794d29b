#include <ATen/ATen.h>
#include <fcntl.h>
#include <sys/sendfile.h>
#include <unistd.h>
#include <nlohmann/json.hpp>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/io/safetensors.h"

namespace slim::io {

namespace fs = std::filesystem;

namespace {

void write_all(std::FILE* file, const void* bytes, uint64_t count, const std::string& path) {
  if (count == 0) return;
  SLIM_CHECK(std::fwrite(bytes, 1, count, file) == count, path, ": write of ", count,
             " bytes failed: ", std::strerror(errno));
}

// Appends the whole of `source_path` to the open file, in the kernel when possible.
void append_file(int destination, const std::string& source_path, uint64_t size,
                 const std::string& destination_path) {
  const int source = ::open(source_path.c_str(), O_RDONLY | O_CLOEXEC);
  SLIM_CHECK(source >= 0, source_path, ": cannot reopen: ", std::strerror(errno));
  uint64_t copied = 0;
  while (copied < size) {
    const ssize_t n = ::sendfile(destination, source, nullptr, size - copied);
    if (n <= 0) {
      const int saved = errno;
      ::close(source);
      SLIM_FAIL(destination_path, ": copying the data section failed after ", copied, " of ", size,
                " bytes: ", n == 0 ? "unexpected end of file" : std::strerror(saved));
    }
    copied += static_cast<uint64_t>(n);
  }
  ::close(source);
}

std::string shard_file_name(const std::string& basename, size_t index, size_t count) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "-%05zu-of-%05zu.safetensors", index + 1, count);
  return basename + buffer;
}

}  // namespace

SafetensorsWriter::SafetensorsWriter(std::string directory, SafetensorsWriterOptions options)
    : directory_(std::move(directory)), options_(std::move(options)) {
  SLIM_CHECK(fs::is_directory(directory_), directory_, ": output directory does not exist");
  SLIM_CHECK(!options_.basename.empty() && options_.basename.find('/') == std::string::npos,
             "safetensors writer: invalid base name ", quote(options_.basename));
}

SafetensorsWriter::~SafetensorsWriter() {
  if (!finished_) remove_temporaries();
}

void SafetensorsWriter::remove_temporaries() noexcept {
  if (data_file_ != nullptr) {
    std::fclose(data_file_);
    data_file_ = nullptr;
  }
  std::error_code ignored;
  for (const auto& shard : shards_) {
    fs::remove(shard.data_path, ignored);
    fs::remove(shard.final_temp, ignored);
  }
}

void SafetensorsWriter::open_shard() {
  Shard shard;
  const std::string stem =
      directory_ + "/." + options_.basename + ".shard" + std::to_string(shards_.size());
  shard.data_path = stem + ".data.tmp";
  shard.final_temp = stem + ".tmp";
  data_file_ = std::fopen(shard.data_path.c_str(), "wb");
  SLIM_CHECK(data_file_ != nullptr, shard.data_path, ": cannot create: ", std::strerror(errno));
  shards_.push_back(std::move(shard));
}

void SafetensorsWriter::add(const std::string& name, const at::Tensor& tensor) {
  const Dtype dtype = dtype_from_scalar_type(tensor.scalar_type());
  const at::Tensor bytes = tensor.to(at::kCPU).contiguous();
  add_raw(name, dtype, bytes.sizes().vec(), bytes.data_ptr(), bytes.nbytes());
}

void SafetensorsWriter::add_raw(const std::string& name, Dtype dtype,
                                const std::vector<int64_t>& shape, const void* bytes,
                                uint64_t nbytes) {
  SLIM_CHECK(!finished_, "safetensors writer: add(", quote(name), ") after finish()");
  SLIM_CHECK(name != "__metadata__" && !name.empty(), "safetensors writer: invalid tensor name ",
             quote(name));
  SLIM_CHECK(seen_.emplace(name, true).second, "safetensors writer: tensor ", quote(name),
             " added twice");
  uint64_t expected = dtype_size(dtype);
  for (int64_t dim : shape) {
    SLIM_CHECK(dim >= 0, "safetensors writer: tensor ", quote(name), " has a negative dimension");
    expected *= static_cast<uint64_t>(dim);
  }
  SLIM_CHECK(expected == nbytes, "safetensors writer: tensor ", quote(name), " has ", nbytes,
             " bytes, its shape and dtype need ", expected);

  const bool shard_full = !shards_.empty() && options_.max_shard_bytes > 0 &&
                          !shards_.back().tensors.empty() &&
                          shards_.back().bytes + nbytes > options_.max_shard_bytes;
  if (shards_.empty() || shard_full) {
    if (!shards_.empty()) close_shard();
    open_shard();
  }
  Shard& shard = shards_.back();
  write_all(data_file_, bytes, nbytes, shard.data_path);
  TensorInfo info;
  info.name = name;
  info.dtype = dtype;
  info.shape = shape;
  info.begin = shard.bytes;
  info.end = shard.bytes + nbytes;
  shard.bytes += nbytes;
  shard.tensors.push_back(std::move(info));
}

void SafetensorsWriter::close_shard() {
  Shard& shard = shards_.back();
  SLIM_CHECK(std::fclose(data_file_) == 0, shard.data_path,
             ": close failed: ", std::strerror(errno));
  data_file_ = nullptr;

  nlohmann::ordered_json header = nlohmann::ordered_json::object();
  if (!options_.metadata.empty()) header["__metadata__"] = options_.metadata;
  for (const auto& info : shard.tensors) {
    header[info.name] = {{"dtype", dtype_name(info.dtype)},
                         {"shape", info.shape},
                         {"data_offsets", {info.begin, info.end}}};
  }
  std::string header_text = header.dump();
  // Pad with spaces so the data section starts 8-byte aligned, as the reference writer does.
  header_text.append((8 - header_text.size() % 8) % 8, ' ');
  uint8_t length[8];
  for (int i = 0; i < 8; ++i)
    length[i] = static_cast<uint8_t>(header_text.size() >> (8 * i));

  std::FILE* out = std::fopen(shard.final_temp.c_str(), "wb");
  SLIM_CHECK(out != nullptr, shard.final_temp, ": cannot create: ", std::strerror(errno));
  try {
    write_all(out, length, 8, shard.final_temp);
    write_all(out, header_text.data(), header_text.size(), shard.final_temp);
    SLIM_CHECK(std::fflush(out) == 0, shard.final_temp, ": flush failed: ", std::strerror(errno));
    append_file(fileno(out), shard.data_path, shard.bytes, shard.final_temp);
    SLIM_CHECK(::fsync(fileno(out)) == 0, shard.final_temp,
               ": fsync failed: ", std::strerror(errno));
  } catch (...) {
    std::fclose(out);
    throw;
  }
  SLIM_CHECK(std::fclose(out) == 0, shard.final_temp, ": close failed: ", std::strerror(errno));
  std::error_code ignored;
  fs::remove(shard.data_path, ignored);
}

std::vector<std::string> SafetensorsWriter::finish() {
  SLIM_CHECK(!finished_, "safetensors writer: finish() called twice");
  if (shards_.empty()) open_shard();  // an empty checkpoint is still a valid file
  close_shard();

  std::vector<std::string> written;
  const bool sharded = shards_.size() > 1 || options_.always_index;
  nlohmann::json weight_map = nlohmann::json::object();
  uint64_t total_size = 0;
  for (size_t i = 0; i < shards_.size(); ++i) {
    const std::string name = sharded ? shard_file_name(options_.basename, i, shards_.size())
                                     : options_.basename + ".safetensors";
    fs::rename(shards_[i].final_temp, directory_ + "/" + name);
    written.push_back(name);
    for (const auto& info : shards_[i].tensors) {
      weight_map[info.name] = name;
      total_size += info.nbytes();
    }
  }
  if (sharded) {
    const nlohmann::json index = {{"metadata", {{"total_size", total_size}}},
                                  {"weight_map", weight_map}};
    const std::string path = directory_ + "/" + index_name();
    std::FILE* out = std::fopen(path.c_str(), "wb");
    SLIM_CHECK(out != nullptr, path, ": cannot create: ", std::strerror(errno));
    const std::string text = json_file_text(index);
    write_all(out, text.data(), text.size(), path);
    SLIM_CHECK(std::fclose(out) == 0, path, ": close failed: ", std::strerror(errno));
    written.push_back(index_name());
  }
  finished_ = true;
  return written;
}

}  // namespace slim::io
