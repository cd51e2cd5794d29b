// The hidden states of the calibration samples between decoder layers, one tensor per sample:
// held in memory, or offloaded to one file per sample in a scratch directory when they would
// not fit (read back for each pass of a layer, overwritten by the layer's outputs). Internal to
// src/pipeline/.
#pragma once

#include <ATen/ATen.h>

#include <cstdint>
#include <string>
#include <vector>

namespace slim::pipeline {

class ActivationStore {
 public:
  // `offload_dir` empty: in memory. Otherwise the directory is created and, with everything in
  // it, removed by the destructor (also when a run fails).
  explicit ActivationStore(std::string offload_dir = "");
  ~ActivationStore();
  ActivationStore(const ActivationStore&) = delete;
  ActivationStore& operator=(const ActivationStore&) = delete;

  void append(const at::Tensor& hidden);
  // Replaces sample i's state (a layer's output becomes the next layer's input).
  void replace(size_t i, const at::Tensor& hidden);
  // In memory, the stored tensor itself: replace(i, ...) overwrites it in place, so a caller
  // reads what it needs of sample i before replacing it.
  at::Tensor get(size_t i) const;

  size_t size() const { return entries_.size(); }
  bool offloaded() const { return !dir_.empty(); }
  const std::string& directory() const { return dir_; }
  // Bytes of every stored state together (what memory would hold without offloading).
  uint64_t bytes() const;

 private:
  struct Entry {
    at::Tensor tensor;  // in memory
    std::vector<int64_t> shape;
    at::ScalarType dtype = at::kFloat;
  };
  std::string file_of(size_t i) const;
  void store(size_t i, const at::Tensor& hidden);

  std::string dir_;
  std::vector<Entry> entries_;
};

}  // namespace slim::pipeline
