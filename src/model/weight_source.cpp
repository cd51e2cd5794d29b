// Weight sources of plain checkpoints: a Hugging Face directory (mapped safetensors) and tensors
// held in memory (see slim/model/weight_source.h).
//
// A minimal implementation for the exec branch: the runtime branch replaces this file.
#include "slim/model/weight_source.h"

#include <ATen/ATen.h>

#include <filesystem>
#include <utility>

#include "slim/core/error.h"
#include "slim/io/safetensors.h"

namespace slim::model {
namespace {

namespace fs = std::filesystem;

bool is_float_dtype(io::Dtype dtype) {
  const auto type = io::dtype_scalar_type(dtype);
  return type.has_value() && at::isFloatingType(*type);
}

class HfWeightSource final : public WeightSource {
 public:
  HfWeightSource(const std::string& path, io::ModelConfig config,
                 io::SafetensorsCheckpoint checkpoint)
      : path_(path), config_(std::move(config)), checkpoint_(std::move(checkpoint)) {}

  std::string describe() const override { return "Hugging Face checkpoint " + path_; }
  const io::ModelConfig& config() const override { return config_; }

  std::optional<std::vector<int64_t>> float_shape(const std::string& name) const override {
    if (!checkpoint_.contains(name)) return std::nullopt;
    const io::TensorInfo& info = checkpoint_.info(name);
    if (!is_float_dtype(info.dtype)) return std::nullopt;
    return info.shape;
  }

  at::Tensor float_tensor(const std::string& name) const override {
    SLIM_CHECK(checkpoint_.contains(name), describe(), ": no tensor ", quote(name));
    const io::TensorInfo& info = checkpoint_.info(name);
    SLIM_CHECK(is_float_dtype(info.dtype), describe(), ": tensor ", quote(name), " is ",
               io::dtype_name(info.dtype), ", not floating point");
    return checkpoint_.tensor(name);
  }

  void release(const std::vector<std::string>& names) const override {
    for (const auto& name : names) {
      if (checkpoint_.contains(name)) checkpoint_.release(name);
    }
  }

 private:
  std::string path_;
  io::ModelConfig config_;
  io::SafetensorsCheckpoint checkpoint_;
};

class MemoryWeightSource final : public WeightSource {
 public:
  MemoryWeightSource(io::ModelConfig config, std::map<std::string, at::Tensor> tensors)
      : config_(std::move(config)), tensors_(std::move(tensors)) {}

  std::string describe() const override { return "tensors in memory"; }
  const io::ModelConfig& config() const override { return config_; }

  std::optional<std::vector<int64_t>> float_shape(const std::string& name) const override {
    const auto it = tensors_.find(name);
    if (it == tensors_.end() || !at::isFloatingType(it->second.scalar_type())) return std::nullopt;
    return it->second.sizes().vec();
  }

  at::Tensor float_tensor(const std::string& name) const override {
    const auto it = tensors_.find(name);
    SLIM_CHECK(it != tensors_.end(), describe(), ": no tensor ", quote(name));
    SLIM_CHECK(at::isFloatingType(it->second.scalar_type()), describe(), ": tensor ", quote(name),
               " is ", c10::toString(it->second.scalar_type()), ", not floating point");
    return it->second;
  }

 private:
  io::ModelConfig config_;
  std::map<std::string, at::Tensor> tensors_;
};

}  // namespace

std::unique_ptr<WeightSource> open_hf_weight_source(const std::string& path) {
  SLIM_CHECK(fs::exists(path), path, ": no such file or directory");
  // A .safetensors file takes config.json from its directory.
  const std::string config_dir =
      fs::is_directory(path) ? path : fs::path(path).parent_path().string();
  io::ModelConfig config = io::load_model_config(config_dir.empty() ? "." : config_dir);
  return std::make_unique<HfWeightSource>(path, std::move(config),
                                          io::SafetensorsCheckpoint::open(path));
}

std::unique_ptr<WeightSource> memory_weight_source(io::ModelConfig config,
                                                   std::map<std::string, at::Tensor> tensors) {
  return std::make_unique<MemoryWeightSource>(std::move(config), std::move(tensors));
}

}  // namespace slim::model
