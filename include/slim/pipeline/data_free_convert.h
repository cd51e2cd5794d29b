// Data-free quantization of a checkpoint (`slim convert --format ascendv1|compressed-tensors
// --scheme ...`): every decoder-layer linear weight is quantized with min/max (round to nearest)
// and everything else is copied, streaming tensor by tensor from the memory-mapped checkpoint, so
// memory stays near one tensor whatever the model size. msModelSlim's weight conversion and
// llm-compressor's model-free PTQ do this job.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace slim::pipeline {

struct DataFreeConvertOptions {
  std::string model_path;
  std::string save_path;
  std::string format;  // "ascendv1" or "compressed-tensors"
  // w8a16 (int8 per channel, or per group with group_size), w4a16 (int4 per group, 128 by
  // default), wfp8 (fp8 e4m3 per channel weights, dynamic fp8 per-token activations), mxfp8,
  // mxfp4 (blocks of 32; activations quantized at run time by the engine).
  std::string scheme;
  int64_t group_size = 0;            // 0: per channel (w8a16), 128 (w4a16)
  bool asym = false;                 // asymmetric integer weights (w8a16, w4a16)
  std::vector<std::string> exclude;  // module patterns left in float (spec §2.7 syntax)
  bool overwrite = false;
  uint64_t shard_bytes = uint64_t{4} << 30;  // ascendv1 part_file_size; compressed-tensors shard
};

struct DataFreeConvertSummary {
  int64_t quantized_linears = 0;
  int64_t float_tensors = 0;
  uint64_t input_bytes = 0;  // bytes of the checkpoint read
  std::vector<std::string> files;
  std::string tag;  // the quantized linears' description tag / compressed-tensors format
};

DataFreeConvertSummary data_free_convert(const DataFreeConvertOptions& options);

}  // namespace slim::pipeline
