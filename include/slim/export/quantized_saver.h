// What every quantized-model output format offers a pipeline: deployed linears and float tensors
// in encounter order, then finish(). The formats (ascendv1.h, compressed_tensors.h) implement it;
// pipelines pick one by name and never special-case a format.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "slim/quant/scheme.h"

namespace slim::exporter {

class QuantizedModelSaver {
 public:
  virtual ~QuantizedModelSaver() = default;
  virtual void add_linear(const quant::DeployedLinear& linear) = 0;
  virtual void add_float(const std::string& name, const at::Tensor& tensor) = 0;
  // Writes everything still pending and moves the output into place; returns the file names.
  virtual std::vector<std::string> finish() = 0;
  // Whether the format can hold linears of this deployed form (checked before any work).
  virtual bool supports(quant::DeployedTag tag) const = 0;
  // Tied weights (an lm_head sharing the embedding) are written under both names (msModelSlim's
  // saver clones them) rather than once (Hugging Face layouts).
  virtual bool writes_tied_weights_twice() const = 0;
};

struct QuantizedSaveOptions {
  std::string save_path;
  bool overwrite = false;
  uint64_t shard_bytes = uint64_t{4} << 30;  // largest weights file; 0: one file
  std::string model_path;                    // source directory: config/tokenizer files copied
};

// "ascendv1" or "compressed-tensors"; anything else is an error listing them.
std::unique_ptr<QuantizedModelSaver> make_quantized_saver(const std::string& format,
                                                          const QuantizedSaveOptions& options);
const std::vector<std::string>& quantized_formats();

}  // namespace slim::exporter
