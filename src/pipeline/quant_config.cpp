#include "slim/pipeline/quant_config.h"

#include <sstream>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/yaml_fields.h"
#include "slim/model/family.h"

namespace slim::pipeline {

namespace {

// A copy of `node` with YAML merge keys (`<<: *anchor`, `<<: [*a, *b]`) applied, recursively:
// yaml-cpp resolves aliases but leaves `<<` as an ordinary key. Keys written beside `<<` win.
YAML::Node resolve_merges(const YAML::Node& node) {
  if (node.IsSequence()) {
    YAML::Node out(YAML::NodeType::Sequence);
    for (const auto& item : node)
      out.push_back(resolve_merges(item));
    return out;
  }
  if (!node.IsMap()) return YAML::Clone(node);
  YAML::Node out(YAML::NodeType::Map);
  std::vector<YAML::Node> merged;
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    if (key == "<<") {
      if (entry.second.IsSequence()) {
        for (const auto& item : entry.second)
          merged.push_back(resolve_merges(item));
      } else {
        merged.push_back(resolve_merges(entry.second));
      }
      continue;
    }
    out[key] = resolve_merges(entry.second);
  }
  for (const auto& source : merged) {
    SLIM_CHECK(source.IsMap(), "YAML merge key `<<`", yaml_line(node),
               ": expected a mapping (or a list of mappings) to merge");
    for (const auto& entry : source) {
      const std::string key = entry.first.as<std::string>();
      if (!out[key]) out[key] = entry.second;
    }
  }
  return out;
}

PracticeLabel parse_label(const YAML::Node& node, const std::string& path) {
  PracticeLabel label;
  if (!node || node.IsNull()) return label;
  check_keys(node, path, {"w_bit", "a_bit", "is_sparse", "kv_cache", "fa_bit", "fa_quant"});
  label.w_bit = static_cast<int>(yaml_int(node, "w_bit", path, 0));
  label.a_bit = static_cast<int>(yaml_int(node, "a_bit", path, 0));
  label.is_sparse = yaml_bool(node, "is_sparse", path, false);
  label.kv_cache = yaml_bool(node, "kv_cache", path, false);
  if (node["fa_bit"] && !node["fa_bit"].IsNull()) {
    label.fa_bit = static_cast<int>(yaml_int(node, "fa_bit", path, 0));
  } else if (yaml_bool(node, "fa_quant", path, false)) {
    label.fa_bit = 8;
  }
  return label;
}

PracticeMetadata parse_metadata(const YAML::Node& node, const std::string& path) {
  PracticeMetadata metadata;
  if (!node || node.IsNull()) return metadata;
  check_keys(node, path, {"config_id", "score", "label", "verified_model_types", "verified_tags"});
  metadata.config_id = yaml_string(node, "config_id", path, metadata.config_id);
  SLIM_CHECK(metadata.config_id.size() <= 200, yaml_path(path, "config_id"),
             ": at most 200 characters, found ", metadata.config_id.size());
  metadata.score = yaml_double(node, "score", path, metadata.score);
  SLIM_CHECK(metadata.score >= 0, yaml_path(path, "score"), ": must be >= 0, found ",
             metadata.score);
  metadata.label = parse_label(node["label"], yaml_path(path, "label"));
  metadata.verified_model_types = yaml_string_list(node, "verified_model_types", path, {});
  const YAML::Node tags = node["verified_tags"];
  if (tags && !tags.IsNull()) {
    const std::string where = yaml_path(path, "verified_tags");
    require_map(tags, where);
    for (const auto& entry : tags) {
      const std::string model = entry.first.as<std::string>();
      const std::string model_path = yaml_path(where, model);
      SLIM_CHECK(entry.second.IsSequence(), model_path,
                 ": expected a list of scenarios (each a list of tags)", yaml_line(entry.second));
      auto& scenarios = metadata.verified_tags[model];
      for (size_t i = 0; i < entry.second.size(); ++i) {
        YAML::Node holder;
        holder["s"] = entry.second[i];
        scenarios.push_back(yaml_string_list(holder, "s", yaml_path(model_path, i), {}));
      }
    }
  }
  return metadata;
}

std::vector<ProcessorConfig> parse_process_list(const YAML::Node& node, const std::string& path) {
  std::vector<ProcessorConfig> out;
  if (!node || node.IsNull()) return out;
  SLIM_CHECK(node.IsSequence(), path, ": expected a list of processors", yaml_line(node));
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string where = yaml_path(path, i);
    require_map(node[i], where);
    const std::string type = yaml_string(node[i], "type", where, "");
    SLIM_CHECK(!type.empty(), where, ": a processor needs a `type`", yaml_line(node[i]));
    out.push_back({type, node[i], where});
  }
  return out;
}

std::vector<SaveConfig> parse_save_list(const YAML::Node& node, const std::string& path) {
  std::vector<SaveConfig> out;
  if (!node || node.IsNull()) return out;
  SLIM_CHECK(node.IsSequence(), path, ": expected a list of save entries", yaml_line(node));
  for (size_t i = 0; i < node.size(); ++i) {
    const std::string where = yaml_path(path, i);
    check_keys(node[i], where, {"type", "part_file_size", "ext"});
    SaveConfig save;
    save.path = where;
    save.type = yaml_string(node[i], "type", where, "");
    if (save.type == "mindie_format_saver") {
      SLIM_FAIL(yaml_path(where, "type"),
                ": mindie_format_saver (multimodal generation models) "
                "is not supported; Slim saves ascendv1_saver or compressed_tensors");
    }
    yaml_choice(node[i], "type", where, {"ascendv1_saver", "compressed_tensors"}, "");
    const int64_t gigabytes = yaml_int(node[i], "part_file_size", where, 4);
    SLIM_CHECK(gigabytes >= 0, yaml_path(where, "part_file_size"), ": must be >= 0 (GB), found ",
               gigabytes);
    save.part_file_bytes = static_cast<uint64_t>(gigabytes) << 30;
    out.push_back(save);
  }
  return out;
}

void parse_v1(QuantConfig& config, const YAML::Node& root) {
  const YAML::Node spec = root["spec"];
  SLIM_CHECK(spec && spec.IsMap(), config.origin, ": spec: required mapping (process, save, ...)");
  check_keys(spec, "spec", {"process", "save", "dataset", "runner", "prior", "numerics"});
  config.process = parse_process_list(spec["process"], "spec.process");
  config.save = parse_save_list(spec["save"], "spec.save");
  config.dataset = yaml_string(spec, "dataset", "spec", config.dataset);
  SLIM_CHECK(config.dataset.size() <= 4096, "spec.dataset: at most 4096 characters");
  config.runner = yaml_choice(spec, "runner", "spec",
                              {"auto", "model_wise", "layer_wise", "dp_layer_wise"}, "auto");
  if (spec["numerics"] && !spec["numerics"].IsNull()) {
    config.numerics = yaml_choice(spec, "numerics", "spec", {"precise", "msmodelslim"}, "precise");
  }
  const YAML::Node prior = spec["prior"];
  if (prior && !prior.IsNull()) {
    SLIM_CHECK(prior.IsSequence(), "spec.prior: expected a list of stages", yaml_line(prior));
    for (size_t i = 0; i < prior.size(); ++i) {
      const std::string where = yaml_path("spec.prior", i);
      check_keys(prior[i], where, {"process", "dataset"});
      PriorStage stage;
      stage.process = parse_process_list(prior[i]["process"], yaml_path(where, "process"));
      stage.dataset = yaml_optional_string(prior[i], "dataset", where);
      config.prior.push_back(std::move(stage));
    }
  }
}

YAML::Node qconfig_node(const std::string& dtype, const std::string& scope, bool symmetric,
                        const std::string& method) {
  YAML::Node node;
  node["dtype"] = dtype;
  node["scope"] = scope;
  node["symmetric"] = symmetric;
  node["method"] = method;
  return node;
}

YAML::Node processor_node(const std::string& type) {
  YAML::Node node;
  node["type"] = type;
  return node;
}

// V0 (§2.10) -> V1 processors. calib_cfg's QuantConfig fields become one linear_quant;
// use_kvcache_quant a dynamic_cache, use_fa_quant an fa3_quant, anti_cfg its V1 suppression
// processor (docs/configs.md has the table).
void translate_v0(QuantConfig& config, const YAML::Node& root) {
  const std::string calib_path = "calib_cfg";
  const YAML::Node calib = root["calib_cfg"];
  YAML::Node cfg = calib && !calib.IsNull() ? calib : YAML::Node(YAML::NodeType::Map);
  check_keys(cfg, calib_path,
             {"w_bit",
              "a_bit",
              "disable_names",
              "act_method",
              "mm_tensor",
              "w_sym",
              "w_method",
              "is_dynamic",
              "use_kvcache_quant",
              "pdmix",
              "group_size",
              "is_lowbit",
              "co_sparse",
              "disable_last_linear",
              "use_fa_quant",
              "fa_amp",
              "dev_type",
              "dev_id",
              "pr",
              "open_outlier",
              "percdamp",
              "fraction",
              "nonuniform",
              "do_smooth",
              "use_sigma",
              "sigma_factor"});
  const int64_t w_bit = yaml_int(cfg, "w_bit", calib_path, 8);
  const int64_t a_bit = yaml_int(cfg, "a_bit", calib_path, 8);
  SLIM_CHECK(w_bit == 8 || w_bit == 4, "calib_cfg.w_bit: expected 4 or 8, found ", w_bit);
  SLIM_CHECK(a_bit == 16 || a_bit == 8 || a_bit == 4,
             "calib_cfg.a_bit: expected 4, 8 or 16, found ", a_bit);
  SLIM_CHECK(!yaml_bool(cfg, "co_sparse", calib_path, false),
             "calib_cfg.co_sparse: sparse quantization (W8A8S) is not implemented in Slim yet");
  SLIM_CHECK(!yaml_bool(cfg, "is_lowbit", calib_path, false),
             "calib_cfg.is_lowbit: the V0 lowbit engine is not implemented in Slim yet");
  const int64_t act_method = yaml_int(cfg, "act_method", calib_path, 1);
  SLIM_CHECK(act_method >= 1 && act_method <= 3, "calib_cfg.act_method: expected 1, 2 or 3, found ",
             act_method);
  const std::string w_method =
      yaml_choice(cfg, "w_method", calib_path, {"MinMax", "GPTQ", "HQQ", "NF"}, "MinMax");
  SLIM_CHECK(w_method == "MinMax" || w_method == "GPTQ", "calib_cfg.w_method: ", w_method,
             " is not implemented in Slim (MinMax, GPTQ)");
  const bool dynamic = yaml_bool(cfg, "is_dynamic", calib_path, false);
  const bool pdmix = yaml_bool(cfg, "pdmix", calib_path, false);
  const bool per_tensor_weights = yaml_bool(cfg, "mm_tensor", calib_path, true);
  const int64_t group_size = yaml_int(cfg, "group_size", calib_path, 64);

  YAML::Node act;
  if (a_bit == 16) {
    act = qconfig_node("float", "per_tensor", true, "none");
  } else if (pdmix) {
    act = qconfig_node("int8", "pd_mix", false, "minmax");
  } else if (dynamic) {
    act = qconfig_node(a_bit == 4 ? "int4" : "int8", "per_token", true, "minmax");
  } else {
    act = qconfig_node("int8", "per_tensor", false, act_method == 1 ? "minmax" : "histogram");
    // act_method 3: per linear, histogram where the input's range score is at most 50, else
    // min/max (Slim spells the choice as an ext key of histogram).
    if (act_method == 3) act["ext"]["range_score_threshold"] = 50.0;
  }
  // V0 quantizes 4-bit weight-only per group (its W4A16 presets); otherwise mm_tensor decides.
  const bool grouped = a_bit == 16 && w_bit == 4 && !per_tensor_weights;
  YAML::Node weight = qconfig_node(
      w_bit == 4 ? "int4" : "int8",
      grouped ? "per_group" : (per_tensor_weights ? "per_tensor" : "per_channel"),
      yaml_bool(cfg, "w_sym", calib_path, true), w_method == "GPTQ" ? "gptq" : "minmax");
  if (grouped) weight["group_size"] = group_size;

  YAML::Node linear = processor_node("linear_quant");
  linear["qconfig"]["act"] = act;
  linear["qconfig"]["weight"] = weight;
  linear["include"].push_back("*");
  YAML::Node exclude(YAML::NodeType::Sequence);
  for (const auto& name : yaml_string_list(cfg, "disable_names", calib_path, {})) {
    // V1 never quantizes the head: dropping it keeps the exclude list's warnings meaningful.
    if (name != model::global_tensor_names().lm_head_module) exclude.push_back(name);
  }
  linear["exclude"] = exclude;

  const YAML::Node anti = root["anti_cfg"];
  YAML::Node process(YAML::NodeType::Sequence);
  if (anti && !anti.IsNull()) {
    check_keys(anti, "anti_cfg",
               {"anti_method", "flex_config", "disable_anti_names", "w_sym", "a_bit", "w_bit",
                "dev_type", "dev_id"});
    const std::string method =
        yaml_choice(anti, "anti_method", "anti_cfg", {"m1", "m2", "m3", "m4", "m5", "m6"}, "m2");
    const char* type = method == "m3"   ? "awq"
                       : method == "m6" ? "flex_smooth_quant"
                       : method == "m1" ? "smooth_quant"
                                        : "iter_smooth";
    SLIM_CHECK(method != "m5", "anti_cfg.anti_method: m5 (CBQ) is not implemented in Slim");
    YAML::Node suppression = processor_node(type);
    // Outlier Suppression+: a channel shift and a scale; Slim's stand-in balances the scales as
    // iter_smooth does instead of OS+'s grid search for the clipping threshold.
    if (method == "m2") suppression["symmetric"] = false;
    if (method == "m3") {
      // AWQ searches its scales for the weights calib_cfg quantizes.
      YAML::Node searched = YAML::Clone(weight);
      searched["method"] = "minmax";
      suppression["weight_qconfig"] = searched;
    }
    const YAML::Node flex = anti["flex_config"];
    if (method == "m6" && flex && !flex.IsNull()) {
      require_map(flex, "anti_cfg.flex_config");
      check_keys(flex, "anti_cfg.flex_config", {"alpha", "beta"});
      for (const char* key : {"alpha", "beta"})
        if (flex[key]) suppression[key] = flex[key];
    }
    const auto skipped = yaml_string_list(anti, "disable_anti_names", "anti_cfg", {});
    if (!skipped.empty() && method != "m1") {
      YAML::Node excluded(YAML::NodeType::Sequence);
      for (const auto& name : skipped)
        excluded.push_back(name);
      suppression["exclude"] = excluded;
    }
    process.push_back(suppression);
  }
  process.push_back(linear);
  if (yaml_bool(cfg, "use_kvcache_quant", calib_path, false)) {
    YAML::Node cache = processor_node("dynamic_cache");
    cache["qconfig"] = qconfig_node("int8", "per_channel", true, "minmax");
    process.push_back(cache);
  }
  if (yaml_bool(cfg, "use_fa_quant", calib_path, false))
    process.push_back(processor_node("fa3_quant"));

  config.process = parse_process_list(process, "calib_cfg (as V1 spec.process)");
  config.dataset = yaml_string(root, "calib_dataset", "", "teacher_qualification.jsonl");
  SaveConfig save;
  save.type = "ascendv1_saver";
  save.path = "calib_save_params";
  save.part_file_bytes = 0;  // V0 writes one file unless part_file_size is given
  const YAML::Node save_params = root["calib_save_params"];
  if (save_params && !save_params.IsNull()) {
    require_map(save_params, "calib_save_params");
    const int64_t gigabytes = yaml_int(save_params, "part_file_size", "calib_save_params", 0);
    SLIM_CHECK(gigabytes >= 0, "calib_save_params.part_file_size: must be >= 0, found ", gigabytes);
    save.part_file_bytes = static_cast<uint64_t>(gigabytes) << 30;
  }
  config.save = {save};
  // The translated spec, for the resolved copy.
  YAML::Node spec;
  spec["process"] = process;
  YAML::Node save_node;
  save_node["type"] = "ascendv1_saver";
  save_node["part_file_size"] = static_cast<int64_t>(save.part_file_bytes >> 30);
  spec["save"].push_back(save_node);
  spec["dataset"] = config.dataset;
  config.root["spec"] = spec;
}

}  // namespace

QuantConfig parse_quant_config(const std::string& text, const std::string& origin) {
  QuantConfig config;
  config.origin = origin;
  YAML::Node root;
  try {
    root = resolve_merges(YAML::Load(text));
  } catch (const YAML::Exception& error) {
    SLIM_FAIL(origin, ": not valid YAML: ", error.what());
  }
  try {
    SLIM_CHECK(root.IsMap(), "expected a mapping at the top level");
    config.root = root;
    config.source_apiversion = yaml_string(root, "apiversion", "", "");
    SLIM_CHECK(!config.source_apiversion.empty(),
               "apiversion: required (modelslim_v1 or "
               "modelslim_v0)");
    config.metadata = parse_metadata(root["metadata"], "metadata");
    const std::string& api = config.source_apiversion;
    if (api == "modelslim_v1") {
      parse_v1(config, root);
    } else if (api == "modelslim_v0") {
      YAML::Node v0 = YAML::Clone(root);
      // V0 keeps its fields at the top level or under spec (one-click presets use spec).
      const bool nested = root["spec"] && root["spec"].IsMap();
      const YAML::Node body = nested ? root["spec"] : root;
      for (const char* key : {"calib_cfg", "anti_cfg", "calib_save_params", "calib_dataset"}) {
        if (body[key]) v0[key] = body[key];
      }
      if (nested) {
        check_keys(body, "spec",
                   {"calib_cfg", "anti_cfg", "anti_params", "calib_params", "calib_save_params",
                    "batch_size", "calib_dataset", "anti_dataset"});
      }
      config.root = YAML::Clone(root);
      config.root["apiversion"] = "modelslim_v1";
      translate_v0(config, v0);
    } else if (api == "modelslim_convert") {
      SLIM_FAIL(
          "apiversion: modelslim_convert (weight conversion) is `slim convert`'s job "
          "(docs/cli.md)");
    } else {
      SLIM_FAIL("apiversion: expected modelslim_v1 or modelslim_v0, found ", quote(api),
                api.rfind("multimodal", 0) == 0 ? " (multimodal models are not supported)" : "");
    }
    config.apiversion = "modelslim_v1";
  } catch (const Error& error) {
    SLIM_FAIL(origin, ": ", error.what());
  }
  return config;
}

QuantConfig load_quant_config(const std::string& path) {
  return parse_quant_config(read_file(path), path);
}

std::string dump_quant_config(const QuantConfig& config) {
  YAML::Node root = YAML::Clone(config.root);
  if (config.numerics) root["spec"]["numerics"] = *config.numerics;
  YAML::Emitter out;
  out << root;
  std::string text = "# Resolved by Slim from " + config.origin;
  if (config.source_apiversion == "modelslim_v0") text += " (modelslim_v0, translated to V1)";
  return text + "\n" + out.c_str() + "\n";
}

QConfigSpec parse_qconfig(const YAML::Node& node, const std::string& path,
                          const QConfigSpec& fallback) {
  check_keys(node, path, {"dtype", "scope", "symmetric", "method", "ext", "group_size"});
  QConfigSpec spec = fallback;
  try {
    if (node["dtype"] && !node["dtype"].IsNull())
      spec.scheme.dtype = quant::parse_qdtype(yaml_string(node, "dtype", path, ""));
  } catch (const Error& error) {
    SLIM_FAIL(yaml_path(path, "dtype"), yaml_line(node["dtype"]), ": ", error.what());
  }
  try {
    if (node["scope"] && !node["scope"].IsNull())
      spec.scheme.scope = quant::parse_qscope(yaml_string(node, "scope", path, ""));
  } catch (const Error& error) {
    SLIM_FAIL(yaml_path(path, "scope"), yaml_line(node["scope"]), ": ", error.what());
  }
  spec.scheme.symmetric = yaml_bool(node, "symmetric", path, spec.scheme.symmetric);
  spec.method = yaml_choice(node, "method", path,
                            {"minmax", "histogram", "ssz", "gptq", "autoround", "none", "ceil_x",
                             "mse_round", "dualscale", "fouroversix"},
                            spec.method);
  if (node["ext"] && !node["ext"].IsNull()) {
    require_map(node["ext"], yaml_path(path, "ext"));
    spec.ext = node["ext"];
  }
  int64_t group = yaml_int(node, "group_size", path, 0);
  if (group == 0 && spec.ext && spec.scheme.scope == quant::QScope::PerGroup)
    group = yaml_int(spec.ext, "group_size", yaml_path(path, "ext"), 0);
  if (spec.scheme.scope == quant::QScope::PerGroup) {
    SLIM_CHECK(group > 0, path, ": per_group needs a positive group_size (or ext.group_size)");
    spec.scheme.group_size = group;
  } else {
    spec.scheme.group_size = 0;
  }
  if (quant::is_mx(spec.scheme.dtype)) spec.scheme.group_size = quant::kMxBlock;
  return spec;
}

}  // namespace slim::pipeline
