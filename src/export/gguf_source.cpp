// A .gguf file as a weight source: every tensor dequantized to a float tensor under its Hugging
// Face name, the llama architecture's Q/K row permutation undone, config.json built from the
// metadata; all as import_gguf does it (slim/io/gguf_import.h), without writing a directory.
#include <unordered_map>
#include <utility>

#include "export/weight_sources.h"
#include "slim/core/error.h"
#include "slim/io/ggml_quants.h"
#include "slim/io/gguf.h"
#include "slim/io/gguf_import.h"
#include "slim/io/model_config.h"

namespace slim::exporter::detail {
namespace {

// Tensors llama.cpp adds that have no Hugging Face counterpart (llama3 rope factors, which
// hf_config_from_gguf turns back into rope_scaling).
const char* const kRopeFreqs = "rope_freqs.weight";

// F32, F16 and BF16 tensors come back in their own dtype (exactly as stored); quantized types are
// dequantized to fp32, as llama.cpp's reference dequantizers compute them.
at::ScalarType float_type_of(io::GgmlType type) {
  switch (type) {
    case io::GgmlType::F16:
      return at::kHalf;
    case io::GgmlType::BF16:
      return at::kBFloat16;
    default:
      return at::kFloat;
  }
}

class GgufWeightSource final : public model::WeightSource {
 public:
  explicit GgufWeightSource(const std::string& path) : gguf_(io::GgufFile::open(path)) {
    const std::string& file = gguf_->path();
    if (const auto splits = gguf_->get_int_opt("split.count"); splits && *splits > 1) {
      SLIM_FAIL(file, ": this is part ", gguf_->get_int_opt("split.no").value_or(0) + 1,
                " of a GGUF split into ", *splits,
                " files; merge them first (llama-gguf-split --merge)");
    }
    const at::ScalarType dtype =
        gguf_->has_tensor("token_embd.weight")
            ? float_type_of(gguf_->tensor("token_embd.weight").type)
            : at::kFloat;  // hf_config_from_gguf reports the missing embeddings
    const auto config = io::hf_config_from_gguf(*gguf_, dtype);
    config_ =
        io::parse_model_config(nlohmann::json::parse(config.dump()), file + " (as config.json)");
    for (const auto& info : gguf_->tensors()) {
      if (info.name == kRopeFreqs) continue;
      const std::string hf = io::hf_tensor_name(info.name);
      SLIM_CHECK(!hf.empty(), file, ": tensor ", quote(info.name), " has no counterpart in ",
                 config_.architecture, " (Slim runs dense llama / qwen2 / qwen3 decoders)");
      SLIM_CHECK(io::ggml_can_dequantize(info.type), file, ": tensor ", quote(info.name),
                 " has type ", io::ggml_type_name(static_cast<uint32_t>(info.type)),
                 ", which Slim cannot dequantize (it reads ", io::ggml_dequantizable_types_text(),
                 ")");
      SLIM_CHECK(by_hf_name_.emplace(hf, &info).second, file, ": two tensors map to ", quote(hf));
    }
  }

  std::string describe() const override { return "GGUF file " + gguf_->path(); }
  std::string format() const override { return "gguf"; }
  const io::ModelConfig& config() const override { return config_; }

  std::optional<std::vector<int64_t>> float_shape(const std::string& name) const override {
    const auto it = by_hf_name_.find(name);
    if (it == by_hf_name_.end()) return std::nullopt;
    return std::vector<int64_t>(it->second->dims.rbegin(), it->second->dims.rend());
  }

  at::Tensor float_tensor(const std::string& name) const override {
    const auto it = by_hf_name_.find(name);
    SLIM_CHECK(it != by_hf_name_.end(), describe(), ": no tensor for ", quote(name));
    const io::GgufTensorInfo& info = *it->second;
    return io::hf_tensor_from_gguf(*gguf_, info, config_.num_attention_heads,
                                   config_.num_key_value_heads, float_type_of(info.type));
  }

  void release(const std::vector<std::string>& names) const override {
    for (const auto& name : names) {
      const auto it = by_hf_name_.find(name);
      if (it == by_hf_name_.end() || !it->second->nbytes) continue;
      gguf_->mapped_file().release(gguf_->tensor_data(*it->second), *it->second->nbytes);
    }
  }

 private:
  std::shared_ptr<io::GgufFile> gguf_;
  io::ModelConfig config_;
  std::unordered_map<std::string, const io::GgufTensorInfo*> by_hf_name_;
};

}  // namespace

std::unique_ptr<model::WeightSource> open_gguf_weight_source(const std::string& path) {
  return std::make_unique<GgufWeightSource>(path);
}

}  // namespace slim::exporter::detail
