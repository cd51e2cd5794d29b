#include "pipeline/non_layer_tensors.h"

#include <spdlog/spdlog.h>

#include <set>

#include "slim/core/error.h"
#include "slim/core/text.h"
#include "slim/model/family.h"
#include "slim/model/tensor_layout.h"

namespace slim::pipeline {

NonLayerCounts write_non_layer_tensors(const io::SafetensorsCheckpoint& checkpoint,
                                       const io::ModelConfig& config,
                                       exporter::QuantizedModelSaver& output,
                                       const NonLayerChanges& changes) {
  NonLayerCounts counts;
  const model::GlobalTensorNames& global = model::global_tensor_names();
  auto read = [&](const std::string& name) {
    if (auto it = changes.tensors.find(name); it != changes.tensors.end()) return it->second;
    SLIM_CHECK(checkpoint.contains(name), "checkpoint: missing tensor ", name);
    counts.input_bytes += checkpoint.info(name).nbytes();
    return checkpoint.tensor(name);
  };
  auto float_linear = [&](const std::string& module, const std::string& weight_name) {
    std::optional<at::Tensor> bias;
    if (checkpoint.contains(module + ".bias")) bias = read(module + ".bias");
    output.add_float_linear(module, read(weight_name), bias);
    counts.float_tensors += bias ? 2 : 1;
    if (checkpoint.contains(weight_name)) checkpoint.release(weight_name);
    if (bias) checkpoint.release(module + ".bias");
  };
  std::set<std::string> covered;
  for (const auto& expected : model::expected_tensors(config)) {
    covered.insert(expected.name);
    if (expected.layer >= 0) continue;
    if (expected.role == model::TensorRole::Head) {
      float_linear(global.lm_head_module, expected.name);
      continue;
    }
    output.add_float(expected.name, read(expected.name));
    ++counts.float_tensors;
    if (checkpoint.contains(expected.name)) checkpoint.release(expected.name);
  }
  if (changes.untied) {
    SLIM_INTERNAL_ASSERT(config.tie_word_embeddings && changes.tensors.count(global.lm_head),
                         "an untied lm_head without its tensor");
    output.untie_word_embeddings();
    float_linear(global.lm_head_module, global.lm_head);
    covered.insert(global.lm_head);
  } else if (output.writes_tied_weights_twice() && config.tie_word_embeddings &&
             !checkpoint.contains(global.lm_head)) {
    output.add_float_linear(global.lm_head_module, checkpoint.tensor(global.embedding),
                            std::nullopt);
    ++counts.float_tensors;
  }
  for (const auto& name : checkpoint.names()) {
    if (covered.count(name) ||
        (ends_with(name, ".bias") && covered.count(name.substr(0, name.size() - 5) + ".weight"))) {
      continue;
    }
    if (name == std::string(global.lm_head_module) + ".bias" &&
        checkpoint.contains(global.lm_head)) {
      continue;  // written with lm_head.weight
    }
    spdlog::info("{}: not read by the {} architecture; copied unchanged", name,
                 config.architecture);
    if (name == global.lm_head) {  // a tied checkpoint that stores its lm_head anyway
      float_linear(global.lm_head_module, name);
      continue;
    }
    output.add_float(name, read(name));
    ++counts.float_tensors;
    checkpoint.release(name);
  }
  return counts;
}

}  // namespace slim::pipeline
