// Quantization configs: msModelSlim's practice YAML (spec msmodelslim-v1.md §2.1-§2.3, §2.10),
// parsed and validated into one model that `slim quant` runs.
//
//   apiversion: modelslim_v1   spec.process / spec.save / spec.dataset / spec.runner / spec.prior,
//                              metadata; YAML anchors and aliases resolved by the parser.
//   apiversion: modelslim_v0   calib_cfg / anti_cfg / calib_save_params / calib_dataset ...,
//                              translated to the same processors (linear_quant).
//
// The processors' own keys are validated by the processors (slim/algo/processor.h): this layer
// checks the envelope (apiversion, metadata, spec, save, runner) and hands each processor its YAML
// mapping and key path. Errors name the file, key path, value found and values allowed.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "slim/core/yaml_fields.h"
#include "slim/quant/scheme.h"

namespace slim::pipeline {

// metadata.label (§2.2).
struct PracticeLabel {
  int w_bit = 0;  // 0: absent
  int a_bit = 0;
  bool is_sparse = false;
  bool kv_cache = false;
  std::optional<int> fa_bit;  // fa_bit, or 8 when fa_quant is true
};

// metadata (§2.2).
struct PracticeMetadata {
  std::string config_id = "Unknown";
  double score = 100.0;
  PracticeLabel label;
  std::vector<std::string> verified_model_types;
  // model_type -> scenarios, each a list of tags.
  std::map<std::string, std::vector<std::vector<std::string>>> verified_tags;
};

// One processor of spec.process (or of a group / prior stage): its `type` and its whole mapping.
struct ProcessorConfig {
  std::string type;
  YamlNode node;     // the mapping, `type` included
  std::string path;  // "spec.process[2]", for messages
};

// One entry of spec.save (§2.8).
struct SaveConfig {
  std::string type;                              // "ascendv1_saver" | "compressed_tensors"
  uint64_t part_file_bytes = uint64_t{4} << 30;  // part_file_size GB * 2^30; 0: one file
  std::string path;
};

struct PriorStage {
  std::vector<ProcessorConfig> process;
  std::optional<std::string> dataset;  // defaults to QuantConfig::dataset
};

struct QuantConfig {
  std::string origin;             // the file (or "<preset default-w8a8>") the config came from
  std::string apiversion;         // "modelslim_v1" (V0 configs are translated to V1 on load)
  std::string source_apiversion;  // as written: "modelslim_v1" | "modelslim_v0"
  PracticeMetadata metadata;
  std::string runner = "auto";  // auto | model_wise | layer_wise | dp_layer_wise
  std::vector<PriorStage> prior;
  std::vector<ProcessorConfig> process;
  std::vector<SaveConfig> save;
  std::string dataset = "mix_calib.jsonl";
  // Slim's rounding convention (spec.numerics): "precise" (default) or "msmodelslim".
  std::optional<std::string> numerics;
  YamlNode root;  // the whole document as written (anchors resolved), for the resolved copy
};

// Parses `text` (the contents of `origin`). Throws slim::Error naming origin and the key path.
QuantConfig parse_quant_config(const std::string& text, const std::string& origin);
QuantConfig load_quant_config(const std::string& path);
// The config as YAML (what `<save_path>/<model_type>_best_practice.yaml` holds): the document as
// written, metadata included, with Slim's resolved choices (numerics, runner) set in `spec`.
std::string dump_quant_config(const QuantConfig& config);

// A QConfig (§2.5): `dtype`, `scope`, `symmetric`, `method`, `ext`, plus Slim's `group_size`
// (msModelSlim reads per-group sizes from ext.group_size; both are accepted).
struct QConfigSpec {
  quant::QScheme scheme;
  std::string method = "minmax";
  YamlNode ext;  // null when absent
};
// Validates dtype/scope/method against §2.5's values (unknown keys refused); `fallback` supplies
// the value of each absent key.
QConfigSpec parse_qconfig(const YAML::Node& node, const std::string& path,
                          const QConfigSpec& fallback);

}  // namespace slim::pipeline
