// The float weight sources: a Hugging Face directory (memory-mapped safetensors) and tensors held
// in memory. The quantized formats' sources live with their readers in src/export/.
#include "slim/model/weight_source.h"

#include <ATen/ATen.h>

#include <filesystem>

#include "slim/core/error.h"
#include "slim/io/safetensors.h"
#include "slim/model/tensor_layout.h"

namespace slim::model {

namespace fs = std::filesystem;

namespace {

class HfWeightSource : public WeightSource {
 public:
  HfWeightSource(std::string path, io::ModelConfig config, io::SafetensorsCheckpoint checkpoint)
      : path_(std::move(path)), config_(std::move(config)), checkpoint_(std::move(checkpoint)) {}

  std::string describe() const override { return "Hugging Face checkpoint " + path_; }
  std::string format() const override { return "huggingface"; }
  const io::ModelConfig& config() const override { return config_; }

  std::optional<std::vector<int64_t>> float_shape(const std::string& name) const override {
    if (!checkpoint_.contains(name)) return std::nullopt;
    return checkpoint_.info(name).shape;
  }

  at::Tensor float_tensor(const std::string& name) const override {
    SLIM_CHECK(checkpoint_.contains(name), path_, ": missing tensor ", quote(name));
    const auto& info = checkpoint_.info(name);
    const auto scalar = io::dtype_scalar_type(info.dtype);
    SLIM_CHECK(scalar.has_value() && at::isFloatingType(*scalar), checkpoint_.file_of(name).path(),
               ": tensor ", quote(name), " has dtype ", io::dtype_name(info.dtype),
               "; the runtime reads F32, F16 or BF16 weights");
    return checkpoint_.tensor(name);
  }

  void release(const std::vector<std::string>& names) const override {
    for (const auto& name : names)
      if (checkpoint_.contains(name)) checkpoint_.release(name);
  }

 private:
  std::string path_;
  io::ModelConfig config_;
  io::SafetensorsCheckpoint checkpoint_;
};

class MemoryWeightSource : public WeightSource {
 public:
  MemoryWeightSource(io::ModelConfig config, std::map<std::string, at::Tensor> tensors)
      : config_(std::move(config)), tensors_(std::move(tensors)) {}

  std::string describe() const override { return "tensors in memory"; }
  std::string format() const override { return "memory"; }
  const io::ModelConfig& config() const override { return config_; }

  std::optional<std::vector<int64_t>> float_shape(const std::string& name) const override {
    const auto found = tensors_.find(name);
    if (found == tensors_.end()) return std::nullopt;
    return found->second.sizes().vec();
  }

  at::Tensor float_tensor(const std::string& name) const override {
    const auto found = tensors_.find(name);
    SLIM_CHECK(found != tensors_.end(), "missing tensor ", quote(name));
    SLIM_CHECK(at::isFloatingType(found->second.scalar_type()), "tensor ", quote(name),
               " is not floating point");
    return found->second;
  }

 private:
  io::ModelConfig config_;
  std::map<std::string, at::Tensor> tensors_;
};

// A source with some float tensors replaced (and possibly another config): everything else is the
// base's.
class OverlayWeightSource : public WeightSource {
 public:
  OverlayWeightSource(std::unique_ptr<WeightSource> base, io::ModelConfig config,
                      std::map<std::string, at::Tensor> replaced)
      : base_(std::move(base)), config_(std::move(config)), replaced_(std::move(replaced)) {}

  std::string describe() const override { return base_->describe() + " (transformed)"; }
  std::string format() const override { return base_->format(); }
  const io::ModelConfig& config() const override { return config_; }

  std::optional<std::vector<int64_t>> float_shape(const std::string& name) const override {
    if (auto found = replaced_.find(name); found != replaced_.end())
      return found->second.sizes().vec();
    return base_->float_shape(name);
  }
  at::Tensor float_tensor(const std::string& name) const override {
    if (auto found = replaced_.find(name); found != replaced_.end()) return found->second;
    return base_->float_tensor(name);
  }
  std::optional<quant::DeployedLinear> deployed_linear(const std::string& module) const override {
    return base_->deployed_linear(module);
  }
  AttentionExtras attention_extras(int64_t layer) const override {
    return base_->attention_extras(layer);
  }
  void release(const std::vector<std::string>& names) const override { base_->release(names); }

 private:
  std::unique_ptr<WeightSource> base_;
  io::ModelConfig config_;
  std::map<std::string, at::Tensor> replaced_;
};

}  // namespace

std::unique_ptr<WeightSource> overlay_weight_source(std::unique_ptr<WeightSource> base,
                                                    io::ModelConfig config,
                                                    std::map<std::string, at::Tensor> replaced) {
  for (const auto& [name, tensor] : replaced) {
    SLIM_CHECK(at::isFloatingType(tensor.scalar_type()), "replacement of ", quote(name),
               " is not floating point");
  }
  return std::make_unique<OverlayWeightSource>(std::move(base), std::move(config),
                                               std::move(replaced));
}

std::unique_ptr<WeightSource> open_hf_weight_source(const std::string& path) {
  const fs::path p(path);
  // A single .safetensors file reads config.json beside it.
  const std::string config_path =
      fs::is_directory(p) ? path : (p.parent_path() / "config.json").string();
  io::ModelConfig config = io::load_model_config(config_path);
  return std::make_unique<HfWeightSource>(path, std::move(config),
                                          io::SafetensorsCheckpoint::open(path));
}

std::unique_ptr<WeightSource> memory_weight_source(io::ModelConfig config,
                                                   std::map<std::string, at::Tensor> tensors) {
  return std::make_unique<MemoryWeightSource>(std::move(config), std::move(tensors));
}

}  // namespace slim::model
