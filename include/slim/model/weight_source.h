// Where a model's weights come from. The runtime (CausalLM) reads every tensor through this
// interface, so one model code runs a Hugging Face directory (memory-mapped safetensors), tensors
// held in memory (training), a quantized Ascend V1 or compressed-tensors directory, or a GGUF file.
//
// Tensor names are always Hugging Face checkpoint names ("model.layers.3.mlp.down_proj.weight");
// a source of another layout (GGUF) maps them. A linear module stored quantized is not offered as
// a float ".weight" tensor: `deployed_linear(module)` returns its record instead, and the runtime
// runs it as an inference engine would (slim/quant/deployed_forward.h). Its ".bias", when stored,
// stays available as a float tensor too (the record carries the same values): a runtime running
// the record must not add it a second time. Pruned W16A16S linears are plain float tensors.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "slim/io/model_config.h"
#include "slim/quant/scheme.h"

namespace slim::model {

// Per-layer attention extras a quantized checkpoint may carry (Ascend V1 §7.4): KV-cache int8
// (`C8`: `<attn>.k_proj.kv_cache_scale/offset`, `<attn>.v_proj.kv_cache_scale/offset`, [Hkv*D])
// and FA3 per-head activation quantization (`FAQuant`: `<attn>.fa_{q,k,v}.scale/offset`, [H,1]).
// Keys are the tensors' checkpoint names; tensors are on the CPU as stored.
struct AttentionExtras {
  std::map<std::string, at::Tensor> tensors;
  bool empty() const { return tensors.empty(); }
};

class WeightSource {
 public:
  virtual ~WeightSource() = default;

  // "Ascend V1 directory /path/out", for messages.
  virtual std::string describe() const = 0;
  // "huggingface", "memory", "ascendv1", "compressed-tensors" or "gguf".
  virtual std::string format() const = 0;
  virtual const io::ModelConfig& config() const = 0;

  // A float (unquantized) tensor by checkpoint name: its shape, or nullopt when the source has no
  // such float tensor (a quantized linear's ".weight" is not one).
  virtual std::optional<std::vector<int64_t>> float_shape(const std::string& name) const = 0;
  // The float tensor as stored (mapped when possible: callers copy before modifying). Throws
  // slim::Error naming the tensor and the source when it is missing or not floating point.
  virtual at::Tensor float_tensor(const std::string& name) const = 0;

  // The deployed record of linear module `module` ("model.layers.0.self_attn.q_proj") when the
  // source stores it quantized, validated; nullopt when it is a float linear.
  virtual std::optional<quant::DeployedLinear> deployed_linear(const std::string& module) const {
    return std::nullopt;
  }
  // The attention extras of decoder layer `layer` (empty when none).
  virtual AttentionExtras attention_extras(int64_t layer) const { return {}; }

  // Drops what the source holds for these tensors (mapped pages), once a layer is done with them:
  // keeps a layer-by-layer pass at a flat resident set.
  virtual void release(const std::vector<std::string>& names) const {}
};

// A plain Hugging Face directory (config.json + safetensors, mapped), or a .safetensors file with
// config.json beside it. (src/model/weight_source.cpp)
std::unique_ptr<WeightSource> open_hf_weight_source(const std::string& path);
// Tensors held in memory, used as they are (training: autograd and in-place updates reach them).
std::unique_ptr<WeightSource> memory_weight_source(io::ModelConfig config,
                                                   std::map<std::string, at::Tensor> tensors);

// `base` with the float tensors of `replaced` (by checkpoint name) in place of its own, read with
// `config` (a transform may untie the embedding): how a pipeline runs a model some processor
// transformed outside its decoder layers.
std::unique_ptr<WeightSource> overlay_weight_source(std::unique_ptr<WeightSource> base,
                                                    io::ModelConfig config,
                                                    std::map<std::string, at::Tensor> replaced);

// Opens `path` as whichever source it is: a directory with quant_model_description*.json or
// quant_model_weight*.safetensors (Ascend V1), a directory whose config.json has
// quantization_config.quant_method "compressed-tensors", a plain Hugging Face directory (or a
// single .safetensors file beside config.json), or a .gguf file (detected by its magic). A
// directory whose config.json declares another quant_method is refused. Throws slim::Error naming
// the path and what was expected. (src/export/weight_sources.cpp: the quantized formats' sources
// live with their readers in src/export/.)
std::unique_ptr<WeightSource> open_weight_source(const std::string& path);

}  // namespace slim::model
