#include "slim/model/decoder.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <cmath>

#include "slim/core/error.h"
#include "slim/model/family.h"
#include "slim/model/roles.h"

namespace slim::model {

// ------------------------------------------------------------------------------ DecoderLayer

DecoderLayer::DecoderLayer(int64_t layer_index, std::vector<Linear> linears,
                           std::vector<LayerNorm> norms, bool moe)
    : index(layer_index),
      prefix(layer_prefix(layer_index)),
      moe_(moe),
      linears_(std::move(linears)),
      norms_(std::move(norms)) {
  for (size_t i = 0; i < linears_.size(); ++i) {
    const bool added = by_role_.emplace(key(linears_[i].role(), linears_[i].expert()), i).second;
    SLIM_INTERNAL_ASSERT(added, prefix, ": two linears with role ", linears_[i].role());
  }
}

std::string DecoderLayer::key(const std::string& role, int64_t expert) {
  return expert < 0 ? role : role + "#" + std::to_string(expert);
}

Linear* DecoderLayer::find_linear(const std::string& role, int64_t expert) {
  const auto found = by_role_.find(key(role, expert));
  return found == by_role_.end() ? nullptr : &linears_[found->second];
}

bool DecoderLayer::has_linear(const std::string& role, int64_t expert) const {
  return by_role_.count(key(role, expert)) != 0;
}

Linear& DecoderLayer::linear(const std::string& role, int64_t expert) {
  Linear* found = find_linear(role, expert);
  SLIM_CHECK(found != nullptr, "decoder layer ", index, " has no linear of role ", quote(role),
             expert >= 0 ? str(" for expert ", expert) : std::string());
  return *found;
}

const Linear& DecoderLayer::linear(const std::string& role, int64_t expert) const {
  return const_cast<DecoderLayer*>(this)->linear(role, expert);
}

Linear* DecoderLayer::linear_named(const std::string& name) {
  for (Linear& linear : linears_)
    if (linear.name() == name) return &linear;
  return nullptr;
}

std::vector<Linear*> DecoderLayer::linears() {
  std::vector<Linear*> result;
  for (Linear& linear : linears_)
    result.push_back(&linear);
  return result;
}

std::vector<const Linear*> DecoderLayer::linears() const {
  std::vector<const Linear*> result;
  for (const Linear& linear : linears_)
    result.push_back(&linear);
  return result;
}

bool DecoderLayer::has_norm(const std::string& role) const {
  return std::any_of(norms_.begin(), norms_.end(),
                     [&](const LayerNorm& norm) { return norm.role == role; });
}

const at::Tensor& DecoderLayer::norm(const std::string& role) const {
  for (const LayerNorm& norm : norms_)
    if (norm.role == role) return norm.weight;
  SLIM_FAIL("decoder layer ", index, " has no norm of role ", quote(role));
}

void DecoderLayer::set_norm(const std::string& role, at::Tensor weight) {
  for (LayerNorm& norm : norms_) {
    if (norm.role != role) continue;
    SLIM_CHECK(weight.sizes() == norm.weight.sizes(), norm.name, ": new weight shape ",
               weight.sizes(), " differs from ", norm.weight.sizes());
    norm.weight = std::move(weight);
    return;
  }
  SLIM_FAIL("decoder layer ", index, " has no norm of role ", quote(role));
}

const std::optional<at::Tensor>& DecoderLayer::norm_bias(const std::string& role) const {
  for (const LayerNorm& norm : norms_)
    if (norm.role == role) return norm.bias;
  SLIM_FAIL("decoder layer ", index, " has no norm of role ", quote(role));
}

void DecoderLayer::set_norm_bias(const std::string& role, at::Tensor bias) {
  for (LayerNorm& norm : norms_) {
    if (norm.role != role) continue;
    SLIM_CHECK(bias.sizes() == norm.weight.sizes(), norm.name, ": bias shape ", bias.sizes(),
               " differs from the weight's ", norm.weight.sizes());
    norm.bias = std::move(bias);
    return;
  }
  SLIM_FAIL("decoder layer ", index, " has no norm of role ", quote(role));
}

std::vector<std::pair<std::string, at::Tensor>> DecoderLayer::tensors() const {
  std::vector<std::pair<std::string, at::Tensor>> result;
  for (const LayerNorm& norm : norms_) {
    result.emplace_back(norm.name + ".weight", norm.weight);
    if (norm.bias) result.emplace_back(norm.name + ".bias", *norm.bias);
  }
  for (const Linear& linear : linears_) {
    if (linear.has_stored_computation()) continue;  // its record holds weight and bias
    result.emplace_back(linear.name() + ".weight", linear.weight());
    if (linear.bias()) result.emplace_back(linear.name() + ".bias", *linear.bias());
  }
  return result;
}

HookHandle DecoderLayer::add_attention_hook(std::shared_ptr<AttentionHook> hook) {
  SLIM_INTERNAL_ASSERT(hook != nullptr, prefix, ": null attention hook");
  const HookHandle handle = next_hook_handle();
  attention_hooks_.emplace_back(handle, std::move(hook));
  return handle;
}

bool DecoderLayer::remove_hook(HookHandle handle) {
  const auto found = std::find_if(attention_hooks_.begin(), attention_hooks_.end(),
                                  [&](const auto& entry) { return entry.first == handle; });
  if (found != attention_hooks_.end()) {
    attention_hooks_.erase(found);
    return true;
  }
  for (Linear& linear : linears_)
    if (linear.remove_hook(handle)) return true;
  return false;
}

void DecoderLayer::clear_hooks() {
  attention_hooks_.clear();
  for (Linear& linear : linears_)
    linear.clear_hooks();
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
  at::Tensor q = split_heads(layer.linear(roles::kQ).forward(x), heads, head_dim);
  at::Tensor k = split_heads(layer.linear(roles::kK).forward(x), kv_heads, head_dim);
  at::Tensor v = split_heads(layer.linear(roles::kV).forward(x), kv_heads, head_dim);
  if (config.has_qk_norm()) {
    q = rms_norm(q, layer.norm(roles::kQNorm), config.rms_norm_eps);
    k = rms_norm(k, layer.norm(roles::kKNorm), config.rms_norm_eps);
  }
  q = apply_rotary(q, context.cos, context.sin);
  k = apply_rotary(k, context.cos, context.sin);
  if (layer.stored_attention()) layer.stored_attention()->on_states(layer, q, k, v);
  for (const auto& [handle, hook] : layer.attention_hooks())
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
  // Scaled and masked in place: the [batch, heads, q, k] scores are the largest temporaries of
  // a long sequence (the matmul's own output; autograd does not need it).
  at::Tensor scores = at::matmul(q, repeat_kv(k, groups).transpose(2, 3));
  scores.mul_(1.0 / std::sqrt(double(head_dim))).add_(mask);
  // Softmax in fp32, as transformers' eager attention.
  const at::Tensor probabilities = at::softmax(scores, -1, at::kFloat).to(q.scalar_type());
  const at::Tensor output = at::matmul(probabilities, repeat_kv(v, groups));
  const at::Tensor merged = output.transpose(1, 2).reshape({x.size(0), q_len, heads * head_dim});
  return layer.linear(roles::kO).forward(merged);
}

// SwiGLU: down(silu(gate(x)) * up(x)); gate before up (hooks see calls in execution order).
at::Tensor swiglu(Linear& gate, Linear& up, Linear& down, const at::Tensor& x) {
  const at::Tensor g = gate.forward(x);
  const at::Tensor u = up.forward(x);
  return down.forward(at::silu(g) * u);
}

at::Tensor mixture_of_experts(const io::ModelConfig& config, DecoderLayer& layer,
                              const at::Tensor& x) {
  const int64_t hidden = x.size(-1);
  const at::Tensor tokens = x.reshape({-1, hidden});
  const Routing routing = route_tokens(config, layer, tokens);
  at::Tensor output = at::zeros_like(tokens);
  // Tokens per expert, grouped on the CPU once (experts are visited in index order, as
  // transformers does, so observers see the same calls).
  const at::Tensor chosen = routing.experts.reshape({-1}).to(at::kCPU);
  const int64_t top_k = routing.experts.size(1);
  std::vector<std::vector<int64_t>> slots(config.moe->num_experts);
  const int64_t* ids = chosen.data_ptr<int64_t>();
  for (int64_t i = 0; i < chosen.numel(); ++i)
    slots[ids[i]].push_back(i);
  const at::Tensor flat_weights = routing.weights.reshape({-1});
  for (int64_t e = 0; e < config.moe->num_experts; ++e) {
    if (slots[e].empty()) continue;  // an expert no token chose does not run
    const at::Tensor slot = at::tensor(slots[e], at::kLong).to(x.device());
    const at::Tensor token = at::floor_divide(slot, top_k);
    const at::Tensor y =
        swiglu(layer.linear(roles::kExpertGate, e), layer.linear(roles::kExpertUp, e),
               layer.linear(roles::kExpertDown, e), tokens.index_select(0, token));
    output.index_add_(0, token,
                      (y * flat_weights.index_select(0, slot).unsqueeze(1)).to(x.dtype()));
  }
  if (layer.has_linear(roles::kSharedGate)) {
    const at::Tensor shared =
        swiglu(layer.linear(roles::kSharedGate), layer.linear(roles::kSharedUp),
               layer.linear(roles::kSharedDown), tokens);
    output = output + at::sigmoid(layer.linear(roles::kSharedRouter).forward(tokens)) * shared;
  }
  return output.view(x.sizes());
}

}  // namespace

Routing route_tokens(const io::ModelConfig& config, DecoderLayer& layer, const at::Tensor& tokens) {
  SLIM_INTERNAL_ASSERT(config.moe.has_value(), "routing without experts");
  const at::Tensor logits = layer.linear(roles::kRouter).forward(tokens);
  const at::Tensor probabilities = at::softmax(logits, -1, at::kFloat);
  auto [weights, experts] = at::topk(probabilities, config.moe->top_k, -1);
  if (config.moe->norm_top_k) weights = weights / weights.sum(-1, /*keepdim=*/true);
  return Routing{experts, weights.to(tokens.scalar_type())};
}

namespace {

// The layer's norm of `role` on x, with its bias when it has one.
at::Tensor layer_norm(const io::ModelConfig& config, const DecoderLayer& layer, const char* role,
                      const at::Tensor& x) {
  at::Tensor normed = rms_norm(x, layer.norm(role), config.rms_norm_eps);
  if (const auto& bias = layer.norm_bias(role)) normed = normed + bias->to(normed.scalar_type());
  return normed;
}

}  // namespace

at::Tensor decoder_layer_forward(const io::ModelConfig& config, DecoderLayer& layer,
                                 const at::Tensor& hidden, ForwardContext& context) {
  const at::Tensor attended =
      attention(config, layer, layer_norm(config, layer, roles::kAttnNorm, hidden), context);
  const at::Tensor residual = hidden + attended;
  const at::Tensor normed = layer_norm(config, layer, roles::kFfnNorm, residual);
  const at::Tensor mlp = layer.is_moe()
                             ? mixture_of_experts(config, layer, normed)
                             : swiglu(layer.linear(roles::kGate), layer.linear(roles::kUp),
                                      layer.linear(roles::kDown), normed);
  return residual + mlp;
}

}  // namespace slim::model
