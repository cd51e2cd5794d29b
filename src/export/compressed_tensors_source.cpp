// A compressed-tensors directory as a weight source: unquantized tensors as floats, quantized
// linears as their deployed records (CompressedTensorsReader::linear).
#include <map>
#include <set>
#include <utility>

#include "export/weight_sources.h"
#include "slim/core/error.h"
#include "slim/export/compressed_tensors.h"
#include "slim/io/model_config.h"
#include "slim/io/safetensors.h"

namespace slim::exporter::detail {
namespace {

class CompressedTensorsWeightSource final : public QuantizedDirectorySource {
 public:
  explicit CompressedTensorsWeightSource(const std::string& directory)
      : directory_(directory), reader_(directory) {
    const std::string config_path = directory + "/config.json";
    config_ = io::load_model_config(directory);
    const nlohmann::json& qc = reader_.quantization_config();
    // A quantized KV cache would need the runtime's attention to use k_scale / v_scale.
    SLIM_CHECK(!qc.contains("kv_cache_scheme") || qc["kv_cache_scheme"].is_null(), config_path,
               ": quantization_config.kv_cache_scheme is set; Slim does not run a quantized KV "
               "cache from compressed-tensors checkpoints");
    const io::SafetensorsCheckpoint& checkpoint = reader_.checkpoint();
    for (const auto& module : reader_.linears()) {
      quantized_[module] = "";
      if (checkpoint.contains(module + ".bias")) float_names_.insert(module + ".bias");
    }
    for (const auto& name : reader_.float_tensors()) {
      // Quantization parameters without a weight_scale beside them belong to no linear.
      const io::Dtype dtype = checkpoint.info(name).dtype;
      SLIM_CHECK(is_float_dtype(dtype), directory, ": tensor ", quote(name), " is ",
                 io::dtype_name(dtype),
                 ", not floating point, and belongs to no quantized linear (",
                 quote(module_of(name) + ".weight_scale"), " is missing)");
      float_names_.insert(name);
    }
    for (const auto& name : checkpoint.names()) {
      if (quantized_.count(module_of(name))) module_tensors_[module_of(name)].push_back(name);
    }
  }

  std::string describe() const override { return "compressed-tensors directory " + directory_; }
  std::string format() const override { return "compressed-tensors"; }
  const io::ModelConfig& config() const override { return config_; }

  std::optional<quant::DeployedLinear> deployed_linear(const std::string& module) const override {
    if (!quantized_.count(module)) return std::nullopt;
    return reader_.linear(module);
  }

 private:
  const io::SafetensorsCheckpoint& checkpoint() const override { return reader_.checkpoint(); }

  std::string directory_;
  CompressedTensorsReader reader_;
  io::ModelConfig config_;
};

}  // namespace

std::unique_ptr<model::WeightSource> open_compressed_tensors_weight_source(
    const std::string& directory) {
  return std::make_unique<CompressedTensorsWeightSource>(directory);
}

}  // namespace slim::exporter::detail
