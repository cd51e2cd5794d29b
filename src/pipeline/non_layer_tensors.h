// What every quantization pipeline writes after the decoder layers: the embedding, the final norm,
// the lm_head (a float linear; a tied one too when the format writes tied weights twice) and any
// other tensor of the checkpoint the architecture does not read (copied, with a note). Internal
// to src/pipeline/.
#pragma once

#include <cstdint>
#include <string>

#include "slim/export/quantized_saver.h"
#include "slim/io/model_config.h"
#include "slim/io/safetensors.h"

namespace slim::pipeline {

struct NonLayerCounts {
  int64_t float_tensors = 0;
  uint64_t input_bytes = 0;
};

// Reads from `checkpoint` (pages released after each tensor is written).
NonLayerCounts write_non_layer_tensors(const io::SafetensorsCheckpoint& checkpoint,
                                       const io::ModelConfig& config,
                                       exporter::QuantizedModelSaver& output);

}  // namespace slim::pipeline
