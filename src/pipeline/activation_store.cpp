#include "pipeline/activation_store.h"

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

#include "slim/core/error.h"

namespace slim::pipeline {

namespace {

namespace fs = std::filesystem;

struct FileCloser {
  void operator()(std::FILE* file) const { std::fclose(file); }
};
using File = std::unique_ptr<std::FILE, FileCloser>;

File open_file(const std::string& path, const char* mode) {
  File file(std::fopen(path.c_str(), mode));
  SLIM_CHECK(file != nullptr, path, ": cannot open (", std::strerror(errno), ")");
  return file;
}

}  // namespace

ActivationStore::ActivationStore(std::string offload_dir) : dir_(std::move(offload_dir)) {
  if (dir_.empty()) return;
  std::error_code error;
  fs::create_directories(dir_, error);
  SLIM_CHECK(!error, dir_, ": cannot create the directory for offloaded activations (",
             error.message(), ")");
}

ActivationStore::~ActivationStore() {
  if (dir_.empty()) return;
  std::error_code ignored;  // a destructor must not throw; a leftover scratch file is harmless
  fs::remove_all(dir_, ignored);
}

std::string ActivationStore::file_of(size_t i) const {
  return (fs::path(dir_) / ("sample-" + std::to_string(i) + ".bin")).string();
}

void ActivationStore::store(size_t i, const at::Tensor& hidden) {
  Entry& entry = entries_[i];
  if (dir_.empty() && entry.tensor.defined() && entry.tensor.sizes() == hidden.sizes() &&
      entry.tensor.scalar_type() == hidden.scalar_type()) {
    // Into the sample's own buffer: long-lived blocks that are freed and reallocated in a
    // different order each layer fragment the heap (peak RSS grew by ~1 state per sample).
    entry.tensor.copy_(hidden);
    return;
  }
  entry.shape.assign(hidden.sizes().begin(), hidden.sizes().end());
  entry.dtype = hidden.scalar_type();
  if (dir_.empty()) {
    entry.tensor = hidden.contiguous();
    return;
  }
  const at::Tensor cpu = hidden.to(at::kCPU).contiguous();
  const std::string path = file_of(i);
  File file = open_file(path, "wb");
  const size_t bytes = cpu.numel() * cpu.element_size();
  const bool written = std::fwrite(cpu.data_ptr(), 1, bytes, file.get()) == bytes;
  const bool closed = std::fclose(file.release()) == 0;
  SLIM_CHECK(written && closed, path, ": cannot write ", bytes, " bytes of offloaded activations (",
             std::strerror(errno), "; is the disk full?)");
}

void ActivationStore::append(const at::Tensor& hidden) {
  entries_.emplace_back();
  store(entries_.size() - 1, hidden);
}

void ActivationStore::replace(size_t i, const at::Tensor& hidden) {
  SLIM_INTERNAL_ASSERT(i < entries_.size(), "activation ", i, " of ", entries_.size());
  store(i, hidden);
}

at::Tensor ActivationStore::get(size_t i) const {
  SLIM_INTERNAL_ASSERT(i < entries_.size(), "activation ", i, " of ", entries_.size());
  const Entry& entry = entries_[i];
  if (dir_.empty()) return entry.tensor;
  at::Tensor out = at::empty(entry.shape, at::TensorOptions().dtype(entry.dtype));
  const std::string path = file_of(i);
  File file = open_file(path, "rb");
  const size_t bytes = out.numel() * out.element_size();
  SLIM_CHECK(std::fread(out.data_ptr(), 1, bytes, file.get()) == bytes, path,
             ": offloaded activations are shorter than ", bytes, " bytes");
  return out;
}

uint64_t ActivationStore::bytes() const {
  uint64_t total = 0;
  for (const Entry& entry : entries_) {
    uint64_t n = c10::elementSize(entry.dtype);
    for (int64_t d : entry.shape)
      n *= static_cast<uint64_t>(d);
    total += n;
  }
  return total;
}

}  // namespace slim::pipeline
