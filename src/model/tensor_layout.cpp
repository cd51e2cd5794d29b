#include "slim/model/tensor_layout.h"

#include "slim/model/family.h"

namespace slim::model {

std::vector<ExpectedTensor> expected_layer_tensors(const io::ModelConfig& config, int64_t layer) {
  std::vector<ExpectedTensor> tensors;
  for (const LayerModule& module : layer_modules(config, layer)) {
    const TensorRole role = module.is_linear() ? TensorRole::Linear : TensorRole::Norm;
    tensors.push_back(
        {module.weight_name(), module.shape, role, layer, module.spec, module.expert, module.name});
    if (module.has_bias) {
      tensors.push_back({module.bias_name(),
                         {module.shape[0]},
                         TensorRole::Bias,
                         layer,
                         module.spec,
                         module.expert,
                         module.name});
    }
  }
  return tensors;
}

std::vector<ExpectedTensor> expected_tensors(const io::ModelConfig& config) {
  const GlobalTensorNames& global = global_tensor_names();
  std::vector<ExpectedTensor> tensors;
  tensors.push_back(
      {global.embedding, {config.vocab_size, config.hidden_size}, TensorRole::Embedding});
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    auto layer_tensors = expected_layer_tensors(config, layer);
    tensors.insert(tensors.end(), std::make_move_iterator(layer_tensors.begin()),
                   std::make_move_iterator(layer_tensors.end()));
  }
  tensors.push_back({global.final_norm, {config.hidden_size}, TensorRole::Norm});
  if (!config.tie_word_embeddings) {
    tensors.push_back({global.lm_head,
                       {config.vocab_size, config.hidden_size},
                       TensorRole::Head,
                       -1,
                       nullptr,
                       -1,
                       global.lm_head_module});
  }
  return tensors;
}

}  // namespace slim::model
