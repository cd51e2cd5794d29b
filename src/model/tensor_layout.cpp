#include "slim/model/tensor_layout.h"

namespace slim::model {

std::vector<ExpectedTensor> expected_layer_tensors(const io::ModelConfig& config, int64_t layer) {
  const int64_t hidden = config.hidden_size;
  const int64_t q_out = config.num_attention_heads * config.head_dim;
  const int64_t kv_out = config.num_key_value_heads * config.head_dim;
  const int64_t inter = config.intermediate_size;
  const std::string prefix = "model.layers." + std::to_string(layer) + ".";
  std::vector<ExpectedTensor> tensors;
  auto add = [&](const std::string& name, std::vector<int64_t> shape, TensorRole role) {
    tensors.push_back({prefix + name, std::move(shape), role, layer});
  };
  auto add_linear = [&](const std::string& name, int64_t out, int64_t in, bool bias) {
    add(name + ".weight", {out, in}, TensorRole::Linear);
    if (bias) add(name + ".bias", {out}, TensorRole::Bias);
  };
  add("input_layernorm.weight", {hidden}, TensorRole::Norm);
  add_linear("self_attn.q_proj", q_out, hidden, config.has_qkv_bias());
  add_linear("self_attn.k_proj", kv_out, hidden, config.has_qkv_bias());
  add_linear("self_attn.v_proj", kv_out, hidden, config.has_qkv_bias());
  add_linear("self_attn.o_proj", hidden, q_out, config.has_o_bias());
  if (config.has_qk_norm()) {
    add("self_attn.q_norm.weight", {config.head_dim}, TensorRole::Norm);
    add("self_attn.k_norm.weight", {config.head_dim}, TensorRole::Norm);
  }
  add("post_attention_layernorm.weight", {hidden}, TensorRole::Norm);
  add_linear("mlp.gate_proj", inter, hidden, config.has_mlp_bias());
  add_linear("mlp.up_proj", inter, hidden, config.has_mlp_bias());
  add_linear("mlp.down_proj", hidden, inter, config.has_mlp_bias());
  return tensors;
}

std::vector<ExpectedTensor> expected_tensors(const io::ModelConfig& config) {
  std::vector<ExpectedTensor> tensors;
  tensors.push_back({"model.embed_tokens.weight",
                     {config.vocab_size, config.hidden_size},
                     TensorRole::Embedding});
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    auto layer_tensors = expected_layer_tensors(config, layer);
    tensors.insert(tensors.end(), layer_tensors.begin(), layer_tensors.end());
  }
  tensors.push_back({"model.norm.weight", {config.hidden_size}, TensorRole::Norm});
  if (!config.tie_word_embeddings) {
    tensors.push_back(
        {"lm_head.weight", {config.vocab_size, config.hidden_size}, TensorRole::Head});
  }
  return tensors;
}

}  // namespace slim::model
