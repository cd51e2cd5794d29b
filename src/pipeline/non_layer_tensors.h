// What every quantization pipeline writes after the decoder layers: the embedding, the final norm,
// the lm_head (a float linear; a tied one too when the format writes tied weights twice) and any
// other tensor of the checkpoint the architecture does not read (copied, with a note). Internal
// to src/pipeline/.
#pragma once

#include <cstdint>
#include <map>
#include <string>

#include "slim/export/quantized_saver.h"
#include "slim/io/model_config.h"
#include "slim/io/safetensors.h"

namespace slim::pipeline {

struct NonLayerCounts {
  int64_t float_tensors = 0;
  uint64_t input_bytes = 0;
};

// What processors changed outside the decoder layers (algo::GlobalTensors): tensors by name,
// written in place of the checkpoint's; `untied`: the lm_head of a tied model was set apart, so
// it is written as its own linear and the output says tie_word_embeddings false.
struct NonLayerChanges {
  std::map<std::string, at::Tensor> tensors;
  bool untied = false;
};

// Reads from `checkpoint` (pages released after each tensor is written).
NonLayerCounts write_non_layer_tensors(const io::SafetensorsCheckpoint& checkpoint,
                                       const io::ModelConfig& config,
                                       exporter::QuantizedModelSaver& output,
                                       const NonLayerChanges& changes = {});

}  // namespace slim::pipeline
