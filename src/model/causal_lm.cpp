#include "slim/model/causal_lm.h"

#include <ATen/ATen.h>

#include "slim/core/error.h"
#include "slim/model/tensor_layout.h"

namespace slim::model {

namespace {

std::string shape_text(at::IntArrayRef shape) {
  std::string text = "[";
  for (size_t i = 0; i < shape.size(); ++i)
    text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

}  // namespace

void CausalLM::init_runtime(RuntimeOptions options) {
  family_ = find_family(config_.architecture);
  SLIM_INTERNAL_ASSERT(family_ != nullptr, "parsed config without a family");
  SLIM_CHECK(options.compute_dtype == at::kFloat || options.compute_dtype == at::kBFloat16 ||
                 options.compute_dtype == at::kHalf || options.compute_dtype == at::kDouble,
             "compute dtype must be fp32, bf16, fp16 or fp64");
  options_ = options;
  rotary_ = std::make_unique<RotaryEmbedding>(config_, options.device);
}

std::unique_ptr<CausalLM> CausalLM::open(const std::string& model_path, RuntimeOptions options) {
  std::unique_ptr<CausalLM> model(new CausalLM());
  model->config_ = io::load_model_config(model_path);
  model->init_runtime(options);
  model->checkpoint_ = io::SafetensorsCheckpoint::open(model_path);
  // Check the global tensors now: a wrong vocabulary size should fail before any work.
  for (const auto& expected : expected_tensors(model->config_)) {
    if (expected.layer >= 0) continue;
    SLIM_CHECK(model->checkpoint_.contains(expected.name), model_path, ": missing tensor ",
               expected.name, " (expected shape ", shape_text(expected.shape), ")");
    const auto& info = model->checkpoint_.info(expected.name);
    SLIM_CHECK(info.shape == expected.shape, model_path, ": tensor ", expected.name, " has shape ",
               shape_text(info.shape), ", config.json implies ", shape_text(expected.shape));
  }
  return model;
}

std::unique_ptr<CausalLM> CausalLM::from_tensors(io::ModelConfig config,
                                                 std::map<std::string, at::Tensor> tensors,
                                                 RuntimeOptions options) {
  std::unique_ptr<CausalLM> model(new CausalLM());
  model->config_ = std::move(config);
  model->init_runtime(options);
  model->in_memory_ = true;
  model->memory_ = std::move(tensors);
  for (const auto& expected : expected_tensors(model->config_))
    model->source(expected.name, expected.shape);
  return model;
}

at::Tensor CausalLM::source(const std::string& name, const std::vector<int64_t>& shape) const {
  if (in_memory_) {
    const auto found = memory_.find(name);
    SLIM_CHECK(found != memory_.end(), "missing tensor ", name, " (expected shape ",
               shape_text(shape), ")");
    SLIM_CHECK(found->second.sizes().vec() == shape, "tensor ", name, " has shape ",
               shape_text(found->second.sizes()), ", expected ", shape_text(shape));
    SLIM_CHECK(at::isFloatingType(found->second.scalar_type()), "tensor ", name,
               " is not floating point");
    return found->second;
  }
  SLIM_CHECK(checkpoint_.contains(name), "missing tensor ", name, " (expected shape ",
             shape_text(shape), ")");
  const auto& info = checkpoint_.info(name);
  SLIM_CHECK(info.shape == shape, "tensor ", name, " has shape ", shape_text(info.shape),
             ", expected ", shape_text(shape));
  SLIM_CHECK(io::dtype_scalar_type(info.dtype).has_value() &&
                 at::isFloatingType(*io::dtype_scalar_type(info.dtype)),
             "tensor ", name, " has dtype ", io::dtype_name(info.dtype),
             "; the runtime reads F32, F16 or BF16 weights");
  return checkpoint_.tensor(name);
}

at::Tensor CausalLM::materialize(const std::string& name, const std::vector<int64_t>& shape) const {
  const at::Tensor stored = source(name, shape);
  // In memory: no copy, so gradients and in-place updates reach the stored tensor. Mapped: a copy,
  // since the mapping is read-only and may go away.
  return stored.to(options_.device, options_.compute_dtype, /*non_blocking=*/false,
                   /*copy=*/!in_memory_);
}

DecoderLayer CausalLM::load_layer(int64_t index) const {
  SLIM_CHECK(index >= 0 && index < config_.num_hidden_layers, "layer ", index,
             " does not exist (the model has ", config_.num_hidden_layers, ")");
  if (!resident_.empty()) return resident_[index];
  DecoderLayer layer;
  layer.index = index;
  layer.prefix = "model.layers." + std::to_string(index) + ".";
  std::map<std::string, at::Tensor> tensors;
  for (const auto& expected : expected_layer_tensors(config_, index)) {
    tensors[expected.name] = materialize(expected.name, expected.shape);
  }
  auto take = [&](const std::string& suffix) { return tensors.at(layer.prefix + suffix); };
  auto linear = [&](const std::string& module) {
    const std::string name = layer.prefix + module;
    const auto bias = tensors.find(name + ".bias");
    return Linear(name, tensors.at(name + ".weight"),
                  bias == tensors.end() ? std::nullopt : std::optional<at::Tensor>(bias->second));
  };
  layer.input_layernorm = take("input_layernorm.weight");
  layer.post_attention_layernorm = take("post_attention_layernorm.weight");
  if (config_.has_qk_norm()) {
    layer.q_norm = take("self_attn.q_norm.weight");
    layer.k_norm = take("self_attn.k_norm.weight");
  }
  layer.q_proj = linear("self_attn.q_proj");
  layer.k_proj = linear("self_attn.k_proj");
  layer.v_proj = linear("self_attn.v_proj");
  layer.o_proj = linear("self_attn.o_proj");
  layer.gate_proj = linear("mlp.gate_proj");
  layer.up_proj = linear("mlp.up_proj");
  layer.down_proj = linear("mlp.down_proj");
  return layer;
}

at::Tensor CausalLM::embed(const at::Tensor& ids) const {
  SLIM_CHECK(ids.dim() == 2, "token ids must be [batch, seq], found ", ids.dim(), " dimensions");
  if (ids.numel() > 0) {
    const int64_t low = ids.min().item<int64_t>();
    const int64_t high = ids.max().item<int64_t>();
    SLIM_CHECK(low >= 0 && high < config_.vocab_size, "token id ", low < 0 ? low : high,
               " is outside the vocabulary [0, ", config_.vocab_size, ")");
  }
  // Gather rows where the matrix is (the mapping, or memory), then move only those to the device.
  const at::Tensor table =
      source("model.embed_tokens.weight", {config_.vocab_size, config_.hidden_size});
  const at::Tensor rows =
      at::index_select(table, 0, ids.reshape({-1}).to(table.device(), at::kLong));
  return rows.to(options_.device, options_.compute_dtype)
      .view({ids.size(0), ids.size(1), config_.hidden_size});
}

ForwardContext CausalLM::make_context(int64_t batch, int64_t seq, int64_t start,
                                      KVCache* cache) const {
  const int64_t limit = config_.max_position_embeddings;
  SLIM_CHECK(start + seq <= limit || config_.rope_scaling.type == "dynamic", "sequence of ",
             start + seq, " positions exceeds the model's limit of ", limit,
             " (max_position_embeddings)");
  ForwardContext context;
  context.positions =
      at::arange(start, start + seq, at::TensorOptions().dtype(at::kLong).device(options_.device))
          .unsqueeze(0)
          .expand({batch, seq});
  std::tie(context.cos, context.sin) = rotary_->cos_sin(context.positions, options_.compute_dtype);
  context.cache = cache;
  return context;
}

at::Tensor CausalLM::run_layer(DecoderLayer& layer, const at::Tensor& hidden,
                               ForwardContext& context) const {
  return decoder_layer_forward(config_, layer, hidden, context);
}

at::Tensor CausalLM::final_norm(const at::Tensor& hidden) const {
  // In memory the tensors change between calls (training): never cache them.
  if (in_memory_) {
    return rms_norm(hidden, materialize("model.norm.weight", {config_.hidden_size}),
                    config_.rms_norm_eps);
  }
  if (!final_norm_.defined()) final_norm_ = materialize("model.norm.weight", {config_.hidden_size});
  return rms_norm(hidden, final_norm_, config_.rms_norm_eps);
}

at::Tensor CausalLM::lm_head_weight() const {
  const std::string name =
      config_.tie_word_embeddings ? "model.embed_tokens.weight" : "lm_head.weight";
  if (in_memory_) return materialize(name, {config_.vocab_size, config_.hidden_size});
  if (!lm_head_.defined()) lm_head_ = materialize(name, {config_.vocab_size, config_.hidden_size});
  return lm_head_;
}

at::Tensor CausalLM::head(const at::Tensor& hidden) const {
  return at::linear(final_norm(hidden), lm_head_weight()).to(at::kFloat);
}

at::Tensor CausalLM::forward(const at::Tensor& ids, KVCache* cache) const {
  const int64_t start = cache ? cache->length : 0;
  ForwardContext context = make_context(ids.size(0), ids.size(1), start, cache);
  at::Tensor hidden = embed(ids);
  for (int64_t k = 0; k < config_.num_hidden_layers; ++k) {
    DecoderLayer layer = load_layer(k);
    hidden = run_layer(layer, hidden, context);
  }
  if (cache) cache->length = start + ids.size(1);
  return head(hidden);
}

void CausalLM::keep_layers_resident() {
  if (!resident_.empty()) return;
  std::vector<DecoderLayer> layers;
  for (int64_t k = 0; k < config_.num_hidden_layers; ++k)
    layers.push_back(load_layer(k));
  resident_ = std::move(layers);
}

}  // namespace slim::model
