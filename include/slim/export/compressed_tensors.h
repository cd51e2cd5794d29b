// compressed-tensors checkpoints (the format of llm-compressor, loaded by vLLM's compressed-tensors
// quantization method and by transformers), written and read back. The schema followed is that of
// compressed-tensors 0.20.0; docs/formats.md ("compressed-tensors") lists every tensor and key.
//
// Deployed forms written (CompressedTensorsSaver::check is the truth): W8A8 (static per-tensor
// int8 activations, "int-quantized"), W8A8_DYNAMIC (per-token int8 activations, per-channel
// weights, "int-quantized"), W8A16 and W4A16 (weight-only int8 / int4 per channel or group,
// "pack-quantized" into int32), WFP8AFP8_DYNAMIC (fp8 e4m3 per-channel weights, per-token fp8
// activations, "float-quantized"), and FLOAT linears (unquantized, listed in `ignore`). Other
// forms, and KV-cache / FA3 extras, are refused naming what the format holds.
//
// Saving streams tensor by tensor (memory near one layer); output appears atomically
// (AtomicOutputDir).
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "slim/export/quantized_saver.h"
#include "slim/quant/scheme.h"

namespace slim::io {
class SafetensorsCheckpoint;
}

namespace slim::exporter {

inline constexpr const char* kCompressedTensorsVersion = "0.20.0";

struct CompressedTensorsSaveOptions {
  std::string save_path;
  bool overwrite = false;                    // replace a non-empty save_path (refused otherwise)
  uint64_t max_shard_bytes = 5'000'000'000;  // transformers' default "5GB"; 0: one file
  // Source Hugging Face directory: its *.json, *.py, *.txt, *.jinja, *.model, *.tiktoken files
  // (not *index.json) are copied; config.json gets the quantization_config. "" copies nothing
  // and writes a config.json holding only quantization_config.
  std::string model_path;
  // More `ignore` entries (module names or "re:" regexes) for unquantized Linear modules that
  // the saver is not given: it already lists float linears (add_float_linear, FLOAT records) and
  // the model's lm_head unless it was quantized (a tied lm_head is not stored, yet transformers
  // builds it as a Linear module).
  std::vector<std::string> ignore;
  std::vector<std::pair<std::string, std::string>> extra_files;  // (relative name, contents)
};

// One tensor of the format: name, safetensors dtype name, tensor (F8 as uint8 bytes).
struct CompressedTensorsTensor {
  std::string name;
  std::string dtype;
  at::Tensor tensor;
};

// The tensors a deployed linear becomes, and its scheme as a config group
// ({"targets", "weights", "input_activations", "output_activations", "format"}; targets left
// empty). Validate the record and refuse the forms CompressedTensorsSaver::check refuses; errors
// name the linear.
std::vector<CompressedTensorsTensor> compressed_tensors_tensors(
    const quant::DeployedLinear& linear);
nlohmann::json compressed_tensors_scheme(const quant::DeployedLinear& linear);

class CompressedTensorsSaver : public QuantizedModelSaver {
 public:
  explicit CompressedTensorsSaver(CompressedTensorsSaveOptions options);
  ~CompressedTensorsSaver() override;
  CompressedTensorsSaver(const CompressedTensorsSaver&) = delete;
  CompressedTensorsSaver& operator=(const CompressedTensorsSaver&) = delete;

  // W8A8, W8A8_DYNAMIC with per-channel weights, W8A16, W4A16, WFP8AFP8_DYNAMIC and FLOAT.
  void check(const quant::DeployedForm& form) const override;
  void add_linear(const quant::DeployedLinear& linear) override;
  // `module.weight` / `module.bias` as given, `module` listed in `ignore`.
  void add_float_linear(const std::string& module, const at::Tensor& weight,
                        const std::optional<at::Tensor>& bias) override;
  // Written as-is; never listed in `ignore` (linears go through add_float_linear).
  void add_float(const std::string& name, const at::Tensor& tensor) override;
  // Refused: vLLM's RMSNorm has no bias (nor do its Llama-like q/k/v without attention_bias), so
  // the output of asymmetric smoothing would not load.
  void add_norm_bias(const std::string& name, const at::Tensor& tensor) override;
  // Refused: msModelSlim's per-channel C8 scales/offsets and FA3 scales have no equivalent in the
  // schema's kv_cache_scheme (per-tensor or per-head scales, no zero-points).
  void add_extra(const std::string& name, const at::Tensor& tensor,
                 const std::string& tag) override;
  // Writes the shards (model.safetensors or model-0000i-of-0000N.safetensors + index), config.json
  // with quantization_config, the copied and extra files; returns the file names (sorted).
  // config.json gets tie_word_embeddings false.
  void untie_word_embeddings() override;
  // optional/quarot.safetensors as in Ascend V1 (vLLM does not read it: the rotation is fused).
  void add_global_rotation(const at::Tensor& rotation) override;
  std::vector<std::string> finish() override;
  bool writes_tied_weights_twice() const override;
  // The quantization_config that finish() writes (for inspection and tests).
  nlohmann::json quantization_config() const;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// ------------------------------------------------------------------------------------ reading

// A compressed-tensors directory (written by Slim or llm-compressor, for the schemes above).
class CompressedTensorsReader {
 public:
  explicit CompressedTensorsReader(const std::string& directory,
                                   std::optional<at::ScalarType> model_dtype = std::nullopt);
  ~CompressedTensorsReader();
  CompressedTensorsReader(CompressedTensorsReader&&) noexcept;
  CompressedTensorsReader& operator=(CompressedTensorsReader&&) noexcept;

  const nlohmann::json& quantization_config() const { return quantization_config_; }
  at::ScalarType model_dtype() const { return model_dtype_; }
  // Quantized linears (module paths) and the other tensors, in file order.
  const std::vector<std::string>& linears() const { return linears_; }
  const std::vector<std::string>& float_tensors() const { return float_tensors_; }

  quant::DeployedLinear linear(const std::string& module) const;
  at::Tensor tensor(const std::string& name) const;
  const io::SafetensorsCheckpoint& checkpoint() const { return *checkpoint_; }

 private:
  std::string directory_;
  std::shared_ptr<io::SafetensorsCheckpoint> checkpoint_;
  nlohmann::json quantization_config_;
  at::ScalarType model_dtype_ = at::kBFloat16;
  std::vector<std::string> linears_;
  std::vector<std::string> float_tensors_;
  std::vector<std::pair<std::string, std::string>> linear_groups_;  // module -> group name
};

}  // namespace slim::exporter
