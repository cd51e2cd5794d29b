#include "slim/model/decoder.h"

#include <ATen/ATen.h>

#include <cmath>

#include "slim/core/error.h"

namespace slim::model {

std::vector<Linear*> DecoderLayer::linears() {
  return {&q_proj, &k_proj, &v_proj, &o_proj, &gate_proj, &up_proj, &down_proj};
}

Linear* DecoderLayer::find_linear(const std::string& name) {
  for (Linear* linear : linears()) {
    if (linear->name() == name) return linear;
  }
  return nullptr;
}

namespace {

// [batch, seq, heads * head_dim] -> [batch, heads, seq, head_dim]
at::Tensor split_heads(const at::Tensor& x, int64_t heads, int64_t head_dim) {
  return x.view({x.size(0), x.size(1), heads, head_dim}).transpose(1, 2);
}

// Repeats each KV head for the query heads of its group (grouped-query attention).
at::Tensor repeat_kv(const at::Tensor& x, int64_t groups) {
  if (groups == 1) return x;
  const auto b = x.size(0), h = x.size(1), t = x.size(2), d = x.size(3);
  return x.unsqueeze(2).expand({b, h, groups, t, d}).reshape({b, h * groups, t, d});
}

at::Tensor attention(const io::ModelConfig& config, DecoderLayer& layer, const at::Tensor& x,
                     ForwardContext& context) {
  const int64_t heads = config.num_attention_heads;
  const int64_t kv_heads = config.num_key_value_heads;
  const int64_t head_dim = config.head_dim;
  at::Tensor q = split_heads(layer.q_proj.forward(x), heads, head_dim);
  at::Tensor k = split_heads(layer.k_proj.forward(x), kv_heads, head_dim);
  at::Tensor v = split_heads(layer.v_proj.forward(x), kv_heads, head_dim);
  if (layer.q_norm) q = rms_norm(q, *layer.q_norm, config.rms_norm_eps);
  if (layer.k_norm) k = rms_norm(k, *layer.k_norm, config.rms_norm_eps);
  q = apply_rotary(q, context.cos, context.sin);
  k = apply_rotary(k, context.cos, context.sin);
  for (const auto& hook : context.attention_hooks)
    hook->on_states(layer, q, k, v);

  int64_t past = 0;
  if (context.cache != nullptr) {
    KVCache& cache = *context.cache;
    const size_t slot = static_cast<size_t>(layer.index);
    if (cache.keys.size() <= slot) {
      cache.keys.resize(slot + 1);
      cache.values.resize(slot + 1);
    }
    if (cache.keys[slot].defined()) {
      past = cache.keys[slot].size(2);
      k = at::cat({cache.keys[slot], k}, 2);
      v = at::cat({cache.values[slot], v}, 2);
    }
    cache.keys[slot] = k;
    cache.values[slot] = v;
  }
  const int64_t q_len = q.size(2);
  const at::Tensor mask = causal_mask(q_len, k.size(2), past, config.window_of_layer(layer.index),
                                      q.scalar_type(), q.device());
  const int64_t groups = heads / kv_heads;
  const at::Tensor scores =
      at::matmul(q, repeat_kv(k, groups).transpose(2, 3)) * (1.0 / std::sqrt(double(head_dim))) +
      mask;
  // Softmax in fp32, as transformers' eager attention.
  const at::Tensor probabilities = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  const at::Tensor output = at::matmul(probabilities, repeat_kv(v, groups));
  const at::Tensor merged = output.transpose(1, 2).reshape({x.size(0), q_len, heads * head_dim});
  return layer.o_proj.forward(merged);
}

}  // namespace

at::Tensor decoder_layer_forward(const io::ModelConfig& config, DecoderLayer& layer,
                                 const at::Tensor& hidden, ForwardContext& context) {
  const at::Tensor attended = attention(
      config, layer, rms_norm(hidden, layer.input_layernorm, config.rms_norm_eps), context);
  const at::Tensor residual = hidden + attended;
  const at::Tensor normed = rms_norm(residual, layer.post_attention_layernorm, config.rms_norm_eps);
  // Gate before up, in this order (hooks see calls in execution order).
  const at::Tensor gate = layer.gate_proj.forward(normed);
  const at::Tensor up = layer.up_proj.forward(normed);
  const at::Tensor mlp = layer.down_proj.forward(at::silu(gate) * up);
  return residual + mlp;
}

}  // namespace slim::model
