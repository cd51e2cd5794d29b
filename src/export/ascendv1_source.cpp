// An Ascend V1 directory as a weight source: FLOAT tensors as floats, quantized linears as their
// deployed records (AscendV1Reader::linear), C8 / FAQuant tensors as per-layer attention extras.
#include <filesystem>
#include <map>
#include <set>
#include <utility>

#include "export/weight_sources.h"
#include "slim/core/error.h"
#include "slim/core/text.h"
#include "slim/export/ascendv1.h"
#include "slim/io/model_config.h"
#include "slim/io/safetensors.h"

namespace slim::exporter::detail {
namespace {

namespace fs = std::filesystem;

// Description keys that are not tensors (as the reader skips them).
const std::set<std::string> kReservedKeys = {
    "version",       "model_quant_type", "group_size",    "metadata",          "optional",
    "kv_cache_type", "kv_quant_type",    "fa_quant_type", "reduce_quant_type",
};

// The linear tags the runtime runs (quant/deployed_forward.h), for messages and lookups.
constexpr quant::DeployedTag kLinearTags[] = {
    quant::DeployedTag::W16A16S,         quant::DeployedTag::W8A16,
    quant::DeployedTag::W4A16,           quant::DeployedTag::W8A8Dynamic,
    quant::DeployedTag::W8A8Mix,         quant::DeployedTag::W8A8,
    quant::DeployedTag::WFp8AFp8Dynamic, quant::DeployedTag::W8A8MxFp8,
    quant::DeployedTag::W4A8MxFp,        quant::DeployedTag::W4A8Dynamic,
    quant::DeployedTag::W4A4Dynamic,     quant::DeployedTag::W4A4MxFp4,
};

bool is_linear_tag(const std::string& tag) {
  for (const auto t : kLinearTags) {
    if (tag == quant::tag_name(t)) return true;
  }
  return false;
}

std::string known_tags_text() {
  std::string text = "FLOAT, C8, FAQuant";
  for (const auto t : kLinearTags)
    text += std::string(", ") + quant::tag_name(t);
  return text;
}

class AscendV1WeightSource final : public QuantizedDirectorySource {
 public:
  explicit AscendV1WeightSource(const std::string& directory)
      : directory_(directory), reader_(directory) {
    SLIM_CHECK(fs::exists(fs::path(directory) / "config.json"), directory,
               ": config.json is missing (an Ascend V1 directory carries the model's config.json)");
    config_ = io::load_model_config(directory);
    const std::string description = directory + "/" + kAscendV1Description;
    const io::SafetensorsCheckpoint& checkpoint = reader_.checkpoint();

    // Every described tensor exists, and its tag is a string.
    std::map<std::string, std::string> tags;
    for (const auto& [key, value] : reader_.description().items()) {
      if (kReservedKeys.count(key)) continue;
      if (ends_with(key, ".quant_type")) continue;  // FA3 per-layer descriptor (§7.7)
      SLIM_CHECK(value.is_string(), description, ": the entry of tensor ", quote(key),
                 " must be a tag string, found ", value.dump());
      const std::string tag = value.get<std::string>();
      SLIM_CHECK(checkpoint.contains(key), description, ": tensor ", quote(key), " (", tag,
                 ") is listed but is in none of the weight files of ", directory);
      tags[key] = tag;
    }

    // Quantized linears; W16A16S (pruned, unquantized) is offered as float tensors.
    for (const auto& module : reader_.linears()) {
      const std::string tag = tags.at(module + ".weight");
      if (tag == quant::tag_name(quant::DeployedTag::W16A16S)) {
        float_names_.insert(module + ".weight");
        if (checkpoint.contains(module + ".bias")) float_names_.insert(module + ".bias");
      } else {
        quantized_[module] = tag;
        if (checkpoint.contains(module + ".bias")) float_names_.insert(module + ".bias");
      }
    }
    // A linear's tensors carry its tag (its bias FLOAT, or the linear's tag). KV-cache scales
    // sit under k_proj / v_proj with their own tag.
    for (const auto& [name, tag] : tags) {
      const auto it = quantized_.find(module_of(name));
      if (it == quantized_.end() || tag == "C8" || tag == "FAQuant") continue;
      const bool bias = ends_with(name, ".bias");
      SLIM_CHECK(tag == it->second || (bias && tag == "FLOAT"), description, ": tensor ",
                 quote(name), " is tagged ", tag, " but its linear ", quote(it->first), " is ",
                 it->second, bias ? " (its bias must be FLOAT or the same tag)" : "");
      module_tensors_[it->first].push_back(name);
    }
    for (const auto& name : reader_.float_tensors())
      float_names_.insert(name);
    for (const auto& [name, tag] : reader_.other_tensors()) {
      if (tag == "C8" || tag == "FAQuant") {
        const auto layer = layer_of_tensor(name);
        SLIM_CHECK(layer.has_value(), description, ": ", tag, " tensor ", quote(name),
                   " names no decoder layer");
        extras_[*layer].push_back(name);
      } else if (tag.empty()) {
        SLIM_FAIL(
            directory, ": tensor ", quote(name), " is not listed in ", kAscendV1Description,
            "; Slim cannot tell how to run it (online rotations, for one, are not supported)");
      } else if (is_linear_tag(tag)) {
        SLIM_FAIL(description, ": tensor ", quote(name), " is tagged ", tag, " but ",
                  quote(module_of(name) + ".weight"), " is not a ", tag,
                  " linear weight, so it belongs to no quantized linear");
      } else {
        SLIM_FAIL(description, ": tensor ", quote(name), " has tag ", quote(tag),
                  ", which Slim cannot run (known tags: ", known_tags_text(), ")");
      }
    }
  }

  std::string describe() const override { return "Ascend V1 directory " + directory_; }
  std::string format() const override { return "ascendv1"; }
  const io::ModelConfig& config() const override { return config_; }

  std::optional<quant::DeployedLinear> deployed_linear(const std::string& module) const override {
    if (!quantized_.count(module)) return std::nullopt;
    return reader_.linear(module);
  }

  model::AttentionExtras attention_extras(int64_t layer) const override {
    model::AttentionExtras extras;
    const auto it = extras_.find(layer);
    if (it == extras_.end()) return extras;
    for (const auto& name : it->second)
      extras.tensors[name] = reader_.tensor(name);
    return extras;
  }

 private:
  const io::SafetensorsCheckpoint& checkpoint() const override { return reader_.checkpoint(); }

  std::string directory_;
  AscendV1Reader reader_;
  io::ModelConfig config_;
  std::map<int64_t, std::vector<std::string>> extras_;  // layer -> C8 / FAQuant tensors
};

}  // namespace

std::unique_ptr<model::WeightSource> open_ascendv1_weight_source(const std::string& directory) {
  return std::make_unique<AscendV1WeightSource>(directory);
}

}  // namespace slim::exporter::detail
