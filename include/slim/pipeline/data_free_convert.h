// Data-free quantization of a checkpoint (`slim convert --format ascendv1|compressed-tensors
// --scheme ...`): every decoder-layer linear weight is quantized with min/max (round to nearest)
// and everything else is copied (excluded linears and the lm_head as float linears), streaming
// tensor by tensor from the memory-mapped checkpoint, so memory stays near one tensor whatever the
// model size. msModelSlim's weight conversion and llm-compressor's model-free PTQ do this job.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "slim/quant/numerics.h"

namespace slim::pipeline {

struct DataFreeConvertOptions {
  std::string model_path;
  std::string save_path;
  std::string format;  // "ascendv1" or "compressed-tensors"
  // A cli_name of the deployed-form table (quant/deployed_forms.h) whose form is weight-only or
  // has dynamic activations (data_free_schemes()): w8a16 (int8 per channel, or per group with
  // group_size), w4a16 (int4 per group, 128 by default), w8a8_dynamic, w4a8_dynamic,
  // w4a4_dynamic (int weights, int8 / int4 per-token activations at run time), wfp8 (fp8 e4m3 per
  // channel weights, dynamic fp8 per-token activations), mxfp8, w4a8_mxfp, mxfp4 (blocks of 32).
  // Static-activation forms (w8a8, w8a8_mix) need calibration and are refused.
  std::string scheme;
  int64_t group_size = 0;  // per-group weights; 0: the row's default (w4a16: 128)
  bool asym = false;       // asymmetric integer weights, where the form has them
  // Rounding convention of the codes (quant/numerics.h, docs/quantization.md "Rounding
  // conventions"); MsModelSlim reproduces msModelSlim's files bit for bit.
  quant::Numerics numerics = quant::Numerics::Precise;
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

// Converts; refuses a scheme, flag or format that does not fit before reading any tensor.
DataFreeConvertSummary data_free_convert(const DataFreeConvertOptions& options);
// The --scheme names data-free conversion takes, in table order.
std::vector<std::string> data_free_schemes();

}  // namespace slim::pipeline
