// msModelSlim's Ascend V1 output format (`ascendv1_saver`, spec msmodelslim-v1.md §7), written and
// read back. docs/formats.md ("Ascend V1 (msModelSlim) format") describes every file and tensor.
//
// Saving streams: the saver takes quantized linears (quant::DeployedLinear) and plain tensors in
// encounter order (§7.2) and hands each tensor to the safetensors writer at once, so memory stays
// near one layer whatever the model size. Output appears atomically (AtomicOutputDir): nothing
// with the final name exists until finish() succeeds, and a failed save leaves nothing behind.
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <variant>
#include <vector>

#include "slim/export/quantized_saver.h"
#include "slim/quant/scheme.h"

namespace slim::io {
class SafetensorsCheckpoint;
}

namespace slim::exporter {

inline constexpr const char* kAscendV1WeightsBasename = "quant_model_weights";
inline constexpr const char* kAscendV1Description = "quant_model_description.json";

struct AscendV1SaveOptions {
  std::string save_path;
  bool overwrite = false;  // replace a non-empty save_path (refused otherwise)
  // msModelSlim's part_file_size (GiB) in bytes: part_file_size * 2^30. 0 writes one
  // quant_model_weights.safetensors; otherwise quant_model_weights-0000i-of-0000N.safetensors and
  // the index, even for one shard (§7.1).
  uint64_t part_file_bytes = uint64_t{4} << 30;
  // Source Hugging Face directory: its *.json, *.py, *.txt, *.jinja files (not *index.json) are
  // copied with mode 0600, config.json without quantization_config. "" copies nothing.
  std::string model_path;
  nlohmann::ordered_json metadata = nlohmann::ordered_json::object();  // description "metadata"
  nlohmann::ordered_json optional = nlohmann::ordered_json::object();  // description "optional"
  // More files to write (name relative to save_path, contents), e.g. the resolved best-practice
  // YAML; written after the copied ones (so they win on a name clash).
  std::vector<std::pair<std::string, std::string>> extra_files;
};

// One tensor of the format: its name, stored dtype (as a safetensors dtype name: "I8", "F32",
// "F8_E4M3", ...), the tensor (F8 as uint8 bytes) and its description tag.
struct AscendV1Tensor {
  std::string name;
  std::string dtype;
  at::Tensor tensor;
  std::string tag;
};

// The tensors a deployed linear becomes (§7.4 - §7.6), in the order msModelSlim writes them.
// Validates the record first (DeployedLinear::validate), refuses the forms AscendV1Saver::check
// refuses, and checks what the format needs beyond them (E4M3 / E2M1 grid values, even dims to
// pack, ...); errors name the linear and tensor.
std::vector<AscendV1Tensor> ascendv1_tensors(const quant::DeployedLinear& linear);

class AscendV1Saver : public QuantizedModelSaver {
 public:
  // Refuses a non-empty save_path unless overwrite (before anything is written).
  explicit AscendV1Saver(AscendV1SaveOptions options);
  ~AscendV1Saver() override;
  AscendV1Saver(const AscendV1Saver&) = delete;
  AscendV1Saver& operator=(const AscendV1Saver&) = delete;

  // Every form of the deployed-form table except W8A8_DYNAMIC with asymmetric weights (the
  // format stores its offsets as zeros, spec §13.12).
  void check(const quant::DeployedForm& form) const override;
  // A linear in its deployed form. FLOAT and W16A16S linears write `P.weight` (and `P.bias`) as
  // given; every tag updates model_quant_type by the §7.8 priority.
  void add_linear(const quant::DeployedLinear& linear) override;
  // `module.weight` and `module.bias` tagged FLOAT (a FLOAT linear record).
  void add_float_linear(const std::string& module, const at::Tensor& weight,
                        const std::optional<at::Tensor>& bias) override;
  // A tensor written as-is with tag FLOAT (any parameter outside a linear).
  void add_float(const std::string& name, const at::Tensor& tensor) override;
  // FLOAT, as msModelSlim writes its RMSNormBias clones' bias.
  void add_norm_bias(const std::string& name, const at::Tensor& tensor) override;
  // "C8" (KV cache scale/offset: also sets kv_cache_type and kv_quant_type to "C8") or "FAQuant"
  // (FA3 per-head scale/offset: also sets fa_quant_type to "FAKQuant"); other tags are refused.
  void add_extra(const std::string& name, const at::Tensor& tensor,
                 const std::string& tag) override;
  // A description entry that is not a tensor, e.g. "<attn>.quant_type" (§7.7).
  void add_description(const std::string& key, const std::string& value);

  // Writes the shards and index, quant_model_description.json, the copied model files and the
  // extra files, then moves the directory into place. Returns the file names written (sorted).
  // config.json gets tie_word_embeddings false.
  void untie_word_embeddings() override;
  // optional/quarot.safetensors and the description's "optional" entry
  // {"quarot": {"rotation_map": {"global_rotation": "optional/quarot.safetensors"}}} (§7.3).
  void add_global_rotation(const at::Tensor& rotation) override;
  std::vector<std::string> finish() override;
  bool writes_tied_weights_twice() const override;

 private:
  struct State;
  std::unique_ptr<State> state_;
};

// Everything at once, in the given order.
struct FloatTensor {
  std::string name;
  at::Tensor tensor;
};
using AscendV1Item = std::variant<quant::DeployedLinear, FloatTensor>;
std::vector<std::string> save_ascendv1(const std::vector<AscendV1Item>& items,
                                       const AscendV1SaveOptions& options);

// ------------------------------------------------------------------------------------ reading

// A directory written in this format (by Slim or msModelSlim): the weights are memory-mapped and
// read one linear at a time.
class AscendV1Reader {
 public:
  // `model_dtype` overrides the model dtype, which otherwise comes from config.json in the
  // directory ("dtype" / "torch_dtype"), else bfloat16. It becomes DeployedLinear::model_dtype.
  explicit AscendV1Reader(const std::string& directory,
                          std::optional<at::ScalarType> model_dtype = std::nullopt);
  ~AscendV1Reader();
  AscendV1Reader(AscendV1Reader&&) noexcept;
  AscendV1Reader& operator=(AscendV1Reader&&) noexcept;

  const std::string& directory() const { return directory_; }
  const nlohmann::ordered_json& description() const { return description_; }
  const std::string& model_quant_type() const { return model_quant_type_; }
  int64_t group_size() const { return group_size_; }
  at::ScalarType model_dtype() const { return model_dtype_; }

  // Quantized linears (module paths, description order) and the tensors outside them: FLOAT
  // tensors (names, description order) and tensors with other tags (C8, FAQuant, ...).
  const std::vector<std::string>& linears() const { return linears_; }
  const std::vector<std::string>& float_tensors() const { return float_tensors_; }
  const std::vector<std::pair<std::string, std::string>>& other_tensors() const {
    return other_tensors_;
  }

  // The deployed record of a quantized linear, validated. W8A8 stores s_x * s_w rather than s_w
  // (§7.4): its weight_scale comes back as fp32(deq_scale) / input_scale, which may differ from
  // the saved s_w in the last bit; everything else comes back exactly as saved.
  quant::DeployedLinear linear(const std::string& module) const;
  // A tensor as stored (F8 as uint8; see info for the dtype).
  at::Tensor tensor(const std::string& name) const;
  const io::SafetensorsCheckpoint& checkpoint() const { return *checkpoint_; }

 private:
  std::string directory_;
  std::shared_ptr<io::SafetensorsCheckpoint> checkpoint_;
  nlohmann::ordered_json description_;
  std::string model_quant_type_;
  int64_t group_size_ = 0;
  at::ScalarType model_dtype_ = at::kBFloat16;
  std::vector<std::string> linears_;
  std::vector<std::string> float_tensors_;
  std::vector<std::pair<std::string, std::string>> other_tensors_;
  std::vector<std::pair<std::string, std::string>> linear_tags_;  // module -> tag
};

}  // namespace slim::exporter
