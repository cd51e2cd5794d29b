#include "slim/model/causal_lm.h"

#include <ATen/ATen.h>

#include "slim/core/error.h"
#include "slim/core/text.h"
#include "slim/model/attention_extras.h"
#include "slim/model/deployed_computation.h"
#include "slim/model/tensor_layout.h"

namespace slim::model {

void CausalLM::init_runtime(RuntimeOptions options) {
  family_ = &family_of(config_);
  SLIM_CHECK(options.compute_dtype == at::kFloat || options.compute_dtype == at::kBFloat16 ||
                 options.compute_dtype == at::kHalf || options.compute_dtype == at::kDouble,
             "compute dtype must be fp32, bf16, fp16 or fp64");
  options_ = options;
  rotary_ = std::make_unique<RotaryEmbedding>(config_, options.device);
}

std::unique_ptr<CausalLM> CausalLM::open(const std::string& model_path, RuntimeOptions options) {
  return from_source(open_weight_source(model_path), options);
}

std::unique_ptr<CausalLM> CausalLM::from_source(std::unique_ptr<WeightSource> source,
                                                RuntimeOptions options) {
  std::unique_ptr<CausalLM> model(new CausalLM());
  model->config_ = source->config();
  model->source_ = std::move(source);
  model->init_runtime(options);
  // Check the global tensors now: a wrong vocabulary size should fail before any work.
  const WeightSource& weights = *model->source_;
  for (const auto& expected : expected_tensors(model->config_)) {
    if (expected.layer >= 0) continue;
    if (expected.role == TensorRole::Head && weights.deployed_linear(expected.module)) continue;
    const auto shape = weights.float_shape(expected.name);
    SLIM_CHECK(shape.has_value(), weights.describe(), ": missing tensor ", expected.name,
               " (expected shape ", shape_text(expected.shape), ")");
    SLIM_CHECK(*shape == expected.shape, weights.describe(), ": tensor ", expected.name,
               " has shape ", shape_text(*shape), ", config.json implies ",
               shape_text(expected.shape));
  }
  return model;
}

std::unique_ptr<CausalLM> CausalLM::from_tensors(io::ModelConfig config,
                                                 std::map<std::string, at::Tensor> tensors,
                                                 RuntimeOptions options) {
  std::unique_ptr<CausalLM> model(new CausalLM());
  model->config_ = config;
  model->source_ = memory_weight_source(std::move(config), std::move(tensors));
  model->init_runtime(options);
  model->in_memory_ = true;
  for (const auto& expected : expected_tensors(model->config_))
    model->stored(expected.name, expected.shape);
  return model;
}

at::Tensor CausalLM::stored(const std::string& name, const std::vector<int64_t>& shape) const {
  const auto found = source_->float_shape(name);
  SLIM_CHECK(found.has_value(), source_->describe(), ": missing tensor ", name, " (expected shape ",
             shape_text(shape), ")");
  SLIM_CHECK(*found == shape, source_->describe(), ": tensor ", name, " has shape ",
             shape_text(*found), ", expected ", shape_text(shape));
  return source_->float_tensor(name);
}

at::Tensor CausalLM::materialize(const std::string& name, const std::vector<int64_t>& shape,
                                 bool keep_stored_dtype) const {
  const at::Tensor tensor = stored(name, shape);
  const at::ScalarType dtype = keep_stored_dtype ? tensor.scalar_type() : options_.compute_dtype;
  // In memory: no copy, so gradients and in-place updates reach the stored tensor. Mapped: a copy,
  // since the mapping is read-only and may go away.
  return tensor.to(options_.device, dtype, /*non_blocking=*/false, /*copy=*/!in_memory_);
}

DecoderLayer CausalLM::load_layer(int64_t index, bool keep_stored_dtype) const {
  SLIM_CHECK(index >= 0 && index < config_.num_hidden_layers, "layer ", index,
             " does not exist (the model has ", config_.num_hidden_layers, ")");
  if (!resident_.empty()) return resident_[index];
  std::vector<Linear> linears;
  std::vector<LayerNorm> norms;
  std::vector<std::string> read;
  for (const LayerModule& module : layer_modules(config_, index)) {
    const std::string role = module.spec->role;
    if (!module.is_linear()) {
      norms.push_back(
          {role, module.name, materialize(module.weight_name(), module.shape, keep_stored_dtype)});
      read.push_back(module.weight_name());
      // A norm bias an asymmetric smoothing wrote (the checkpoint layout has none).
      if (source_->float_shape(module.bias_name())) {
        norms.back().bias = materialize(module.bias_name(), module.shape, keep_stored_dtype);
        read.push_back(module.bias_name());
      }
      continue;
    }
    if (auto record = source_->deployed_linear(module.name)) {
      // The record carries its bias; the kernel adds it.
      SLIM_CHECK(
          record->out_features() == module.shape[0] && record->in_features() == module.shape[1],
          source_->describe(), ": quantized linear ", module.name, " is [", record->out_features(),
          ", ", record->in_features(), "], config.json implies ", shape_text(module.shape));
      linears.emplace_back(module.name, module.shape[0], module.shape[1],
                           deployed_computation(std::move(*record), options_.device), role,
                           module.expert);
      read.push_back(module.name);  // the record's tensors
      continue;
    }
    std::optional<at::Tensor> bias;
    // The family's bias, or one a transform added (asymmetric smoothing folds a shift into it).
    if (module.has_bias || source_->float_shape(module.bias_name())) {
      bias = materialize(module.bias_name(), {module.shape[0]}, keep_stored_dtype);
      read.push_back(module.bias_name());
    }
    linears.emplace_back(module.name,
                         materialize(module.weight_name(), module.shape, keep_stored_dtype), bias,
                         role, module.expert);
    read.push_back(module.weight_name());
  }
  // Copied to the device: the mapped pages are no longer needed (flat RSS over a layer pass).
  if (!in_memory_) source_->release(read);
  DecoderLayer layer(index, std::move(linears), std::move(norms), config_.is_moe_layer(index));
  layer.set_stored_attention(attention_extras_hook(source_->attention_extras(index), layer.prefix,
                                                   config_.num_attention_heads,
                                                   config_.num_key_value_heads, config_.head_dim));
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
      stored(global_tensor_names().embedding, {config_.vocab_size, config_.hidden_size});
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
  const char* name = global_tensor_names().final_norm;
  // In memory the tensors change between calls (training): never cache them.
  if (in_memory_) {
    return rms_norm(hidden, materialize(name, {config_.hidden_size}), config_.rms_norm_eps);
  }
  if (!final_norm_.defined()) final_norm_ = materialize(name, {config_.hidden_size});
  return rms_norm(hidden, final_norm_, config_.rms_norm_eps);
}

at::Tensor CausalLM::lm_head_weight() const {
  const GlobalTensorNames& names = global_tensor_names();
  const char* name = config_.tie_word_embeddings ? names.embedding : names.lm_head;
  // Kept only with resident layers (generation calls it per token); a layer-by-layer pass
  // materialises it per call instead, so it never sits in memory beside a decoder layer.
  if (in_memory_) return materialize(name, {config_.vocab_size, config_.hidden_size});
  if (resident_.empty()) {
    at::Tensor weight = materialize(name, {config_.vocab_size, config_.hidden_size});
    source_->release({name});  // copied: its mapped pages need not stay resident
    return weight;
  }
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
