// What every quantized-model output format offers a pipeline: check() of the deployed forms it
// will be given, before any work; then deployed linears, float linears, float tensors and extras
// (KV-cache / FA3 scales) in encounter order; then finish(). The formats (ascendv1.h,
// compressed_tensors.h) implement it; pipelines pick one by name and never special-case a format.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "slim/quant/scheme.h"

namespace slim::exporter {

class QuantizedModelSaver {
 public:
  QuantizedModelSaver() = default;
  virtual ~QuantizedModelSaver() = default;
  QuantizedModelSaver(const QuantizedModelSaver&) = delete;
  QuantizedModelSaver& operator=(const QuantizedModelSaver&) = delete;

  // Throws slim::Error, naming the format, the form and what the format cannot hold, unless
  // linears of `form` can be written: every form check() accepts, add_linear writes. Properties
  // of one linear (an even dim to pack, a zero-point that must be an integer) are add_linear's.
  virtual void check(const quant::DeployedForm& form) const = 0;
  // A linear in its deployed form (check(linear.form()) first; then the record's own checks).
  virtual void add_linear(const quant::DeployedLinear& linear) = 0;
  // An unquantized linear (excluded, or an lm_head left in float): `module.weight` [O, I] and
  // `module.bias` as given, declared as a linear so that no saver guesses roles from names or
  // shapes (Ascend V1 tags it FLOAT; compressed-tensors lists it in `ignore`).
  virtual void add_float_linear(const std::string& module, const at::Tensor& weight,
                                const std::optional<at::Tensor>& bias) = 0;
  // Any other tensor, written as-is (norms, embeddings, ...).
  virtual void add_float(const std::string& name, const at::Tensor& tensor) = 0;
  // The bias asymmetric smoothing gives a norm (`<norm>.bias`, RMSNorm(x)·γ + β, MindIE's
  // anti-outlier norm). A format whose engine has no such norm throws naming it.
  virtual void add_norm_bias(const std::string& name, const at::Tensor& tensor) = 0;
  // A KV-cache or FA3 tensor with its msModelSlim tag ("C8": `<attn>.{k,v}_proj.kv_cache_{scale,
  // offset}`, "FAQuant": `<attn>.fa_{q,k,v}.{scale,offset}`, spec §7.7). A format that cannot
  // hold it throws naming the tensor and why.
  virtual void add_extra(const std::string& name, const at::Tensor& tensor,
                         const std::string& tag) = 0;
  // The model's lm_head is no longer its embedding (a rotation transformed them differently):
  // the output's config.json says tie_word_embeddings false, and the pipeline writes the lm_head
  // as a linear of its own.
  virtual void untie_word_embeddings() = 0;
  // QuaRot's global rotation (fp32 [n, n], `export_extra_info`): written as
  // optional/quarot.safetensors, key `global_rotation` (spec §7.1), for tools that need the basis
  // the weights are in; the weights themselves need no runtime rotation.
  virtual void add_global_rotation(const at::Tensor& rotation) = 0;
  // Writes everything still pending and moves the output into place; returns the file names.
  virtual std::vector<std::string> finish() = 0;
  // Tied weights (an lm_head sharing the embedding) are written under both names (msModelSlim's
  // saver clones them) rather than once (Hugging Face layouts).
  virtual bool writes_tied_weights_twice() const = 0;
};

struct QuantizedSaveOptions {
  std::string save_path;
  bool overwrite = false;
  uint64_t shard_bytes = uint64_t{4} << 30;  // largest weights file; 0: one file
  std::string model_path;                    // source directory: config/tokenizer files copied
  // More files (name relative to save_path, contents), e.g. the resolved best-practice YAML.
  std::vector<std::pair<std::string, std::string>> extra_files;
};

// "ascendv1" or "compressed-tensors"; anything else is an error listing them.
std::unique_ptr<QuantizedModelSaver> make_quantized_saver(const std::string& format,
                                                          const QuantizedSaveOptions& options);
const std::vector<std::string>& quantized_formats();

}  // namespace slim::exporter
