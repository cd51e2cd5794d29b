// compressed-tensors saver and reader (schema of compressed-tensors 0.20.0, as vLLM loads it).
#include "slim/export/compressed_tensors.h"

#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <map>
#include <regex>
#include <set>

#include "export/quant_format_common.h"
#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/text.h"
#include "slim/io/safetensors.h"
#include "slim/model/family.h"
#include "slim/quant/deployed_forms.h"
#include "slim/quant/numerics.h"

namespace slim::exporter {

namespace fs = std::filesystem;
using nlohmann::json;
using quant::DeployedLinear;
using quant::DeployedTag;
using quant::QDtype;
using quant::QScheme;
using quant::QScope;

namespace {

constexpr const char* kIntQuantized = "int-quantized";
constexpr const char* kFloatQuantized = "float-quantized";
constexpr const char* kPackQuantized = "pack-quantized";

[[noreturn]] void fail_linear(const DeployedLinear& linear, const std::string& what) {
  SLIM_FAIL("deployed linear ", quote(linear.name), " (", tag_name(linear.tag),
            "): compressed-tensors: ", what);
}

// QuantizationArgs as compressed-tensors 0.20.0 serialises them, less `scale_dtype` and `zp_dtype`
// (added in 0.13; releases up to 0.12 refuse unknown keys, and 0.13+ infer the same values).
json quantization_args(int num_bits, const char* type, bool symmetric, const char* strategy,
                       std::optional<int64_t> group_size, bool dynamic) {
  json args = json::object();
  args["num_bits"] = num_bits;
  args["type"] = type;
  args["symmetric"] = symmetric;
  args["group_size"] = group_size ? json(*group_size) : json(nullptr);
  args["strategy"] = strategy;
  args["block_structure"] = nullptr;
  args["dynamic"] = dynamic;
  args["actorder"] = nullptr;
  // 0.20.0's defaults: memoryless_minmax for static weights, none for dynamic activations;
  // static activations are calibrated with static_minmax.
  args["observer"] =
      dynamic ? json(nullptr)
              : json(strategy == std::string("tensor") ? "static_minmax" : "memoryless_minmax");
  args["observer_kwargs"] = json::object();
  return args;
}

json int_weight_args(const DeployedLinear& linear, int bits) {
  const bool grouped = linear.weight.scope == QScope::PerGroup;
  return quantization_args(
      bits, "int", linear.weight.symmetric, grouped ? "group" : "channel",
      grouped ? std::optional<int64_t>(linear.weight.group_size) : std::nullopt, false);
}

at::Tensor integral_int8(const DeployedLinear& linear, const at::Tensor& values, const char* what,
                         int bits) {
  if (!detail::all_integral(values)) {
    fail_linear(linear, str(what,
                            " holds non-integral zero-points, which the format stores as "
                            "integers"));
  }
  const double lo = -(1 << (bits - 1));
  const double hi = (1 << (bits - 1)) - 1;
  if (values.numel() > 0 &&
      (values.min().item<double>() < lo || values.max().item<double>() > hi)) {
    fail_linear(linear, str(what, " zero-points must lie in [", lo, ", ", hi, "]"));
  }
  return values.to(at::kChar).contiguous();
}

}  // namespace

namespace {

constexpr const char* kNoEquivalent = "Slim writes no compressed-tensors scheme for this form";

// What the format cannot hold of a valid form, or nullopt. Every tag has a case: a new form
// states here whether compressed-tensors holds it.
std::optional<std::string> refusal(const quant::DeployedForm& form) {
  switch (form.tag) {
    case DeployedTag::Float:  // listed in `ignore`
    case DeployedTag::W8A8:
    case DeployedTag::W8A16:
    case DeployedTag::W4A16:
    case DeployedTag::WFp8AFp8Dynamic:
      return std::nullopt;
    case DeployedTag::W8A8Dynamic:
      if (form.weight.scope != QScope::PerChannel) {
        return str("vLLM's int8 W8A8 kernels take per-channel weight scales; ",
                   form.weight.to_string(), " weights cannot be written");
      }
      return std::nullopt;
    case DeployedTag::W16A16S:
      return std::string(
          "pruned (sparse) float weights are not a quantization scheme of the format");
    case DeployedTag::W8A8Mix:
      return std::string("the format has no prefill/decode (pd_mix) activations; " +
                         std::string(kNoEquivalent));
    case DeployedTag::W4A8Dynamic:
    case DeployedTag::W4A4Dynamic:
    case DeployedTag::W8A8MxFp8:
    case DeployedTag::W4A8MxFp:
    case DeployedTag::W4A4MxFp4:
      return std::string(kNoEquivalent);
  }
  SLIM_INTERNAL_ASSERT(false, "unknown DeployedTag ", static_cast<int>(form.tag));
}

// The tags of which the format holds at least one form, from refusal() over the table.
std::string held_tags() {
  std::string out;
  for (const auto& spec : quant::deployed_form_table()) {
    for (const auto& form : quant::forms_of(spec, 128)) {
      if (!refusal(form)) {
        out += (out.empty() ? "" : ", ") + std::string(spec.name);
        break;
      }
    }
  }
  return out;
}

void check_compressed_tensors_form(const quant::DeployedForm& form) {
  quant::check_form(form);
  if (const auto why = refusal(form)) {
    SLIM_FAIL("compressed-tensors cannot hold ", form.to_string(), ": ", *why,
              " (the format holds ", held_tags(), ")");
  }
}

// The config group of a record whose form check_compressed_tensors_form accepted.
json scheme_of(const DeployedLinear& linear) {
  json scheme = json::object();
  scheme["targets"] = json::array();
  scheme["output_activations"] = nullptr;
  switch (linear.tag) {
    case DeployedTag::W8A8:
      scheme["weights"] = int_weight_args(linear, 8);
      scheme["input_activations"] =
          quantization_args(8, "int", linear.act.symmetric, "tensor", std::nullopt, false);
      scheme["format"] = kIntQuantized;
      break;
    case DeployedTag::W8A8Dynamic:
      scheme["weights"] = int_weight_args(linear, 8);
      scheme["input_activations"] = quantization_args(8, "int", true, "token", std::nullopt, true);
      scheme["format"] = kIntQuantized;
      break;
    case DeployedTag::W8A16:
    case DeployedTag::W4A16:
      scheme["weights"] = int_weight_args(linear, linear.tag == DeployedTag::W8A16 ? 8 : 4);
      scheme["input_activations"] = nullptr;
      scheme["format"] = kPackQuantized;
      break;
    case DeployedTag::WFp8AFp8Dynamic:
      scheme["weights"] = quantization_args(8, "float", true, "channel", std::nullopt, false);
      scheme["input_activations"] =
          quantization_args(8, "float", true, "token", std::nullopt, true);
      scheme["format"] = kFloatQuantized;
      break;
    case DeployedTag::Float:
      fail_linear(linear, "a FLOAT linear has no quantization scheme (it is listed in ignore)");
    case DeployedTag::W16A16S:
    case DeployedTag::W8A8Mix:
    case DeployedTag::W4A8Dynamic:
    case DeployedTag::W4A4Dynamic:
    case DeployedTag::W8A8MxFp8:
    case DeployedTag::W4A8MxFp:
    case DeployedTag::W4A4MxFp4:
      SLIM_INTERNAL_ASSERT(false, "scheme_of ", tag_name(linear.tag),
                           ", which check_compressed_tensors_form refuses");
  }
  return scheme;
}

// validate() and the form check, naming the linear.
void check_record(const DeployedLinear& linear) {
  linear.validate();
  try {
    check_compressed_tensors_form(linear.form());
  } catch (const Error& error) {
    SLIM_FAIL("deployed linear ", quote(linear.name), ": ", error.what());
  }
}

}  // namespace

json compressed_tensors_scheme(const DeployedLinear& linear) {
  check_record(linear);
  return scheme_of(linear);
}

std::vector<CompressedTensorsTensor> compressed_tensors_tensors(const DeployedLinear& linear) {
  const std::string prefix = linear.name + ".";
  std::vector<CompressedTensorsTensor> out;
  const auto add = [&](const std::string& suffix, const at::Tensor& tensor) {
    const at::Tensor stored = tensor.contiguous();
    out.push_back({prefix + suffix, detail::safetensors_dtype(stored), stored});
  };
  const auto add_bias = [&] {
    if (linear.bias) add("bias", *linear.bias);
  };
  check_record(linear);  // refuses the forms the format does not hold before anything is packed
  if (linear.tag == DeployedTag::Float) {
    add("weight", linear.weight_codes);
    add_bias();
    return out;
  }
  // The layout follows the config group's format (scheme_of chose it for the tag).
  const json scheme = scheme_of(linear);
  const std::string format = scheme["format"].get<std::string>();
  const at::Tensor scale = linear.weight_scale.to(at::kFloat);
  if (format == kIntQuantized) {
    add("weight", linear.weight_codes);
    add("weight_scale", scale);
    if (linear.input_scale.defined()) {  // static activations
      add("input_scale", linear.input_scale.to(at::kFloat).reshape({1}));
      if (!linear.act.symmetric) {
        add("input_zero_point",
            integral_int8(linear, linear.input_offset.reshape({1}), "input_offset", 8));
      }
    }
  } else if (format == kPackQuantized) {
    const int bits = scheme["weights"]["num_bits"].get<int>();
    add("weight_packed", detail::pack_int32(linear.weight_codes, bits, 1));
    add("weight_scale", scale);
    add("weight_shape", at::tensor({linear.out_features(), linear.in_features()}, at::kLong));
    if (!linear.weight.symmetric) {
      add("weight_zero_point",
          detail::pack_int32(integral_int8(linear, linear.weight_offset, "weight_offset", bits),
                             bits, 0));
    }
  } else {
    SLIM_INTERNAL_ASSERT(format == kFloatQuantized, "unknown format ", format);
    out.push_back({prefix + "weight", "F8_E4M3",
                   quant::e4m3_to_bytes(prefix + "weight", linear.weight_codes)});
    add("weight_scale", scale);
  }
  add_bias();
  return out;
}

// ------------------------------------------------------------------------------------ saver

struct CompressedTensorsSaver::State {
  CompressedTensorsSaveOptions options;
  AtomicOutputDir output;
  std::optional<io::SafetensorsWriter> writer;
  std::set<std::string> written;
  // Config groups in order of first use: (scheme without targets, its modules).
  std::vector<std::pair<json, std::vector<std::string>>> groups;
  std::vector<std::string> ignore;
  std::set<std::string> quantized_modules;
  bool untied = false;
  at::Tensor global_rotation;
  bool finished = false;

  explicit State(CompressedTensorsSaveOptions opts)
      : options(std::move(opts)), output(options.save_path, options.overwrite) {
    io::SafetensorsWriterOptions writer_options;
    writer_options.basename = "model";
    writer_options.max_shard_bytes = options.max_shard_bytes;
    writer_options.metadata = {{"format", "pt"}};  // as transformers writes
    writer.emplace(output.path(), writer_options);
  }

  void check_open(const char* what) const {
    SLIM_CHECK(!finished, "compressed-tensors saver: ", what, " after finish()");
  }

  void add_ignore(const std::string& name) {
    if (std::find(ignore.begin(), ignore.end(), name) == ignore.end()) ignore.push_back(name);
  }

  void write(const CompressedTensorsTensor& tensor) {
    detail::write_listed_tensor(*writer, tensor.name, tensor.dtype, tensor.tensor);
    written.insert(tensor.name);
  }

  json config() const {
    json config_groups = json::object();
    std::set<std::string> formats;
    for (size_t i = 0; i < groups.size(); ++i) {
      json scheme = groups[i].first;
      scheme["targets"] = groups.size() == 1 ? json::array({"Linear"}) : json(groups[i].second);
      formats.insert(scheme["format"].get<std::string>());
      config_groups["group_" + std::to_string(i)] = scheme;
    }
    std::vector<std::string> ignored;
    for (const auto& name : ignore) {
      if (!quantized_modules.count(name)) ignored.push_back(name);
    }
    for (const auto& name : options.ignore) {
      if (std::find(ignored.begin(), ignored.end(), name) == ignored.end()) ignored.push_back(name);
    }
    const std::string lm_head = model::global_tensor_names().lm_head_module;
    if (!quantized_modules.count(lm_head) &&
        std::find(ignored.begin(), ignored.end(), lm_head) == ignored.end()) {
      ignored.push_back(lm_head);
    }
    json out = json::object();
    out["config_groups"] = config_groups;
    out["format"] = formats.size() == 1 ? json(*formats.begin())
                    : formats.empty()   ? json("dense")
                                        : json("mixed-precision");
    out["global_compression_ratio"] = nullptr;
    out["ignore"] = ignored;
    out["kv_cache_scheme"] = nullptr;
    out["moe_sparsity_config"] = nullptr;
    out["quant_method"] = "compressed-tensors";
    out["quantization_status"] = "compressed";
    out["sparsity_config"] = json::object();
    out["transform_config"] = json::object();
    out["version"] = kCompressedTensorsVersion;
    return out;
  }
};

CompressedTensorsSaver::CompressedTensorsSaver(CompressedTensorsSaveOptions options)
    : state_(std::make_unique<State>(std::move(options))) {}

CompressedTensorsSaver::~CompressedTensorsSaver() = default;

void CompressedTensorsSaver::add_linear(const DeployedLinear& linear) {
  State& s = *state_;
  s.check_open("add_linear");
  const std::vector<CompressedTensorsTensor> tensors = compressed_tensors_tensors(linear);
  for (const auto& tensor : tensors) {
    SLIM_CHECK(!s.written.count(tensor.name), "compressed-tensors saver: tensor ",
               quote(tensor.name), " written twice");
  }
  for (const auto& tensor : tensors)
    s.write(tensor);
  if (linear.tag == DeployedTag::Float) {
    s.add_ignore(linear.name);
    return;
  }
  json scheme = scheme_of(linear);  // compressed_tensors_tensors validated the record
  s.quantized_modules.insert(linear.name);
  for (auto& [group, modules] : s.groups) {
    if (group == scheme) {
      modules.push_back(linear.name);
      return;
    }
  }
  s.groups.emplace_back(std::move(scheme), std::vector<std::string>{linear.name});
}

void CompressedTensorsSaver::add_float(const std::string& name, const at::Tensor& tensor) {
  State& s = *state_;
  s.check_open("add_float");
  SLIM_CHECK(tensor.defined(), "compressed-tensors saver: tensor ", quote(name), " is undefined");
  SLIM_CHECK(!s.written.count(name), "compressed-tensors saver: tensor ", quote(name),
             " written twice");
  s.write({name, detail::safetensors_dtype(tensor), tensor.to(at::kCPU).contiguous()});
}

void CompressedTensorsSaver::add_float_linear(const std::string& module, const at::Tensor& weight,
                                              const std::optional<at::Tensor>& bias) {
  state_->check_open("add_float_linear");
  add_linear(detail::float_linear_record(module, weight, bias));
}

void CompressedTensorsSaver::add_extra(const std::string& name, const at::Tensor&,
                                       const std::string& tag) {
  state_->check_open("add_extra");
  // 0.20.0's kv_cache_scheme describes per-tensor (or per-head) fp8 / int8 scales that vLLM loads
  // as `<attn>.k_scale` / `v_scale`, without zero-points; msModelSlim's C8 scales and offsets are
  // per channel, and FA3 scales have no place in the schema. Writing them under that scheme would
  // deploy different numbers, so they are refused.
  SLIM_FAIL("compressed-tensors saver: tensor ", quote(name), " (tag ", quote(tag),
            "): the format holds no KV-cache / FA3 quantization of this kind (its kv_cache_scheme "
            "is per-tensor or per-head scales without offsets); use --format ascendv1");
}

void CompressedTensorsSaver::check(const quant::DeployedForm& form) const {
  check_compressed_tensors_form(form);
}

json CompressedTensorsSaver::quantization_config() const {
  return state_->config();
}

void CompressedTensorsSaver::add_norm_bias(const std::string& name, const at::Tensor& tensor) {
  SLIM_FAIL("compressed-tensors saver: norm bias ", quote(name),
            " (asymmetric smoothing, symmetric: false): vLLM's RMSNorm has no bias, so the "
            "output would not load; smooth symmetrically or save in the Ascend V1 format");
}

void CompressedTensorsSaver::untie_word_embeddings() {
  state_->check_open("untie_word_embeddings");
  state_->untied = true;
}

void CompressedTensorsSaver::add_global_rotation(const at::Tensor& rotation) {
  state_->check_open("add_global_rotation");
  SLIM_CHECK(!state_->global_rotation.defined(),
             "compressed-tensors saver: global rotation written twice");
  state_->global_rotation = rotation.to(at::kCPU, at::kFloat).contiguous();
}

std::vector<std::string> CompressedTensorsSaver::finish() {
  State& s = *state_;
  s.check_open("finish");
  s.finished = true;
  const std::string dir = s.output.path();
  s.writer->finish();
  if (s.global_rotation.defined()) detail::write_global_rotation(dir, s.global_rotation, 0644);

  json config = json::object();
  if (!s.options.model_path.empty()) {
    for (const auto& name : detail::model_files_to_copy(
             s.options.model_path, {".json", ".py", ".txt", ".jinja", ".model", ".tiktoken"})) {
      const std::string source = s.options.model_path + "/" + name;
      if (name == "config.json") {
        try {
          config = json::parse(read_file(source));
        } catch (const json::exception& error) {
          SLIM_FAIL(source, ": invalid JSON: ", error.what());
        }
        SLIM_CHECK(config.is_object(), source, ": expected a JSON object");
        continue;
      }
      detail::copy_file_with_mode(source, dir + "/" + name, 0644);
    }
  }
  if (config.contains("text_config") && config["text_config"].is_object()) {
    config["text_config"].erase("quantization_config");
  }
  config["quantization_config"] = s.config();
  if (s.untied) config["tie_word_embeddings"] = false;
  // compressed-tensors' update_config: json.dump(config, indent=2, sort_keys=True).
  detail::write_file_with_mode(dir + "/config.json", config.dump(2), 0644);

  detail::write_extra_files(dir, s.options.extra_files, 0644, "compressed-tensors saver");
  std::vector<std::string> files = detail::files_under(dir);
  s.writer.reset();
  s.output.commit();
  return files;
}

// ------------------------------------------------------------------------------------ reader

namespace {

const std::vector<std::string> kModuleParams = {
    "weight",       "weight_packed", "weight_scale", "weight_zero_point",
    "weight_shape", "weight_g_idx",  "input_scale",  "input_zero_point",
    "bias",
};

// vLLM's matching: a target equals the name, or "re:<pattern>" matches from its start.
bool target_matches(const std::string& target, const std::string& name) {
  if (starts_with(target, "re:")) {
    try {
      return std::regex_search(name, std::regex(target.substr(3)),
                               std::regex_constants::match_continuous);
    } catch (const std::regex_error&) {
      return false;
    }
  }
  return target == name;
}

QScheme make_scheme(QDtype dtype, QScope scope, bool symmetric, int64_t group_size = 0) {
  QScheme out;
  out.dtype = dtype;
  out.scope = scope;
  out.symmetric = symmetric;
  out.group_size = group_size;
  return out;
}

}  // namespace

CompressedTensorsReader::CompressedTensorsReader(const std::string& directory,
                                                 std::optional<at::ScalarType> model_dtype)
    : directory_(directory) {
  SLIM_CHECK(fs::is_directory(directory_), directory_, ": not a directory");
  const std::string config_path = directory_ + "/config.json";
  SLIM_CHECK(fs::exists(config_path), directory_, ": config.json is missing");
  json config;
  try {
    config = json::parse(read_file(config_path));
  } catch (const json::exception& error) {
    SLIM_FAIL(config_path, ": invalid JSON: ", error.what());
  }
  SLIM_CHECK(config.is_object() && config.contains("quantization_config") &&
                 config["quantization_config"].is_object(),
             config_path, ": no quantization_config: not a compressed-tensors checkpoint");
  quantization_config_ = config["quantization_config"];
  SLIM_CHECK(quantization_config_.value("quant_method", "") == "compressed-tensors", config_path,
             ": quantization_config.quant_method is ",
             quantization_config_.value("quant_method", std::string("absent")),
             ", expected \"compressed-tensors\"");
  const std::string status = quantization_config_.value("quantization_status", "compressed");
  SLIM_CHECK(status == "compressed", config_path, ": quantization_status ", quote(status),
             " is not \"compressed\"");
  SLIM_CHECK(quantization_config_.contains("config_groups") &&
                 quantization_config_["config_groups"].is_object(),
             config_path, ": quantization_config.config_groups is missing");
  model_dtype_ =
      model_dtype ? *model_dtype : detail::config_torch_dtype(config).value_or(at::kBFloat16);
  checkpoint_ =
      std::make_shared<io::SafetensorsCheckpoint>(io::SafetensorsCheckpoint::open(directory_));

  std::vector<std::string> ignore;
  if (quantization_config_.contains("ignore") && quantization_config_["ignore"].is_array()) {
    for (const auto& entry : quantization_config_["ignore"])
      ignore.push_back(entry.get<std::string>());
  }

  // Tensors in file order (each shard's data order, shards in index order).
  std::vector<std::string> ordered;
  for (const auto& file : checkpoint_->files()) {
    for (const auto& info : file->tensors())
      ordered.push_back(info.name);
  }
  std::set<std::string> modules;
  for (const auto& name : ordered) {
    if (!ends_with(name, ".weight_scale")) continue;
    const std::string module = name.substr(0, name.size() - std::string(".weight_scale").size());
    if (!modules.insert(module).second) continue;
    // The group: exact or regex targets first, then class-name targets ("Linear").
    std::string group;
    for (const auto& [group_name, scheme] : quantization_config_["config_groups"].items()) {
      for (const auto& target : scheme.value("targets", json::array())) {
        if (target.is_string() && target_matches(target.get<std::string>(), module)) {
          group = group_name;
          break;
        }
      }
      if (!group.empty()) break;
    }
    if (group.empty()) {
      const bool ignored = std::any_of(ignore.begin(), ignore.end(), [&](const std::string& t) {
        return target_matches(t, module);
      });
      for (const auto& [group_name, scheme] : quantization_config_["config_groups"].items()) {
        for (const auto& target : scheme.value("targets", json::array())) {
          const std::string text = target.is_string() ? target.get<std::string>() : "";
          if (!ignored && !text.empty() && !starts_with(text, "re:") &&
              text.find('.') == std::string::npos) {
            group = group_name;  // a module class name: Slim cannot check the class
            break;
          }
        }
        if (!group.empty()) break;
      }
    }
    SLIM_CHECK(!group.empty(), config_path, ": no config group targets quantized module ",
               quote(module));
    linears_.push_back(module);
    linear_groups_.emplace_back(module, group);
  }
  for (const auto& name : ordered) {
    bool owned = false;
    for (const auto& param : kModuleParams) {
      if (ends_with(name, "." + param) &&
          modules.count(name.substr(0, name.size() - param.size() - 1))) {
        owned = true;
        break;
      }
    }
    if (!owned) float_tensors_.push_back(name);
  }
}

CompressedTensorsReader::~CompressedTensorsReader() = default;
CompressedTensorsReader::CompressedTensorsReader(CompressedTensorsReader&&) noexcept = default;
CompressedTensorsReader& CompressedTensorsReader::operator=(CompressedTensorsReader&&) noexcept =
    default;

at::Tensor CompressedTensorsReader::tensor(const std::string& name) const {
  return checkpoint_->tensor(name);
}

DeployedLinear CompressedTensorsReader::linear(const std::string& module) const {
  std::string group;
  for (const auto& [name, value] : linear_groups_) {
    if (name == module) group = value;
  }
  SLIM_CHECK(!group.empty(), directory_, ": no quantized linear ", quote(module));
  const json& scheme = quantization_config_["config_groups"][group];
  const std::string where = str(directory_, ": ", quote(module), " (config group ", group, ")");
  const std::string prefix = module + ".";
  const auto has = [&](const std::string& suffix) {
    return checkpoint_->contains(prefix + suffix);
  };
  const auto read = [&](const std::string& suffix) {
    SLIM_CHECK(has(suffix), where, ": tensor ", quote(prefix + suffix), " is missing");
    return checkpoint_->tensor(prefix + suffix);
  };
  const auto dtype_of = [&](const std::string& suffix) {
    return checkpoint_->info(prefix + suffix).dtype;
  };
  SLIM_CHECK(!has("weight_g_idx"), where,
             ": activation-ordered groups (weight_g_idx) are not supported");

  SLIM_CHECK(scheme.contains("weights") && scheme["weights"].is_object(), where,
             ": the group quantizes no weights");
  const json& weights = scheme["weights"];
  const json input =
      scheme.contains("input_activations") ? scheme["input_activations"] : json(nullptr);
  std::string format = scheme.value("format", json(nullptr)).is_string()
                           ? scheme["format"].get<std::string>()
                           : quantization_config_.value("format", std::string());
  const int bits = weights.value("num_bits", 8);
  const std::string type = weights.value("type", "int");
  const bool symmetric = weights.value("symmetric", true);
  const std::string strategy = weights.value("strategy", json(nullptr)).is_string()
                                   ? weights["strategy"].get<std::string>()
                                   : "tensor";

  DeployedLinear linear;
  linear.name = module;
  linear.model_dtype = model_dtype_;
  if (has("bias")) linear.bias = read("bias").clone();

  // Weight codes.
  int64_t out_features = 0;
  int64_t in_features = 0;
  QDtype weight_dtype;
  if (type == "int") {
    SLIM_CHECK(bits == 8 || bits == 4, where, ": int weights of ", bits,
               " bits are not supported (4 or 8)");
    weight_dtype = bits == 8 ? QDtype::Int8 : QDtype::Int4;
    if (has("weight_packed")) {
      SLIM_CHECK(dtype_of("weight_packed") == io::Dtype::I32, where, ": weight_packed must be I32");
      const at::Tensor shape = read("weight_shape").to(at::kLong);
      SLIM_CHECK(shape.numel() == 2, where, ": weight_shape must hold 2 values");
      out_features = shape[0].item<int64_t>();
      in_features = shape[1].item<int64_t>();
      const at::Tensor packed = read("weight_packed");
      SLIM_CHECK(packed.dim() == 2 && packed.size(0) == out_features &&
                     packed.size(1) == (in_features * bits + 31) / 32,
                 where, ": weight_packed shape does not match weight_shape");
      linear.weight_codes = detail::unpack_int32(packed, bits, in_features, 1);
    } else {
      SLIM_CHECK(dtype_of("weight") == io::Dtype::I8, where, ": weight must be I8");
      linear.weight_codes = read("weight").clone();
      out_features = linear.weight_codes.size(0);
      in_features = linear.weight_codes.size(1);
    }
  } else if (type == "float" && bits == 8) {
    weight_dtype = QDtype::Fp8E4M3;
    SLIM_CHECK(dtype_of("weight") == io::Dtype::F8_E4M3, where, ": weight must be F8_E4M3");
    linear.weight_codes = quant::e4m3_from_bytes(read("weight"));
    out_features = linear.weight_codes.size(0);
    in_features = linear.weight_codes.size(1);
  } else {
    SLIM_FAIL(where, ": weights of type ", type, " with ", bits, " bits are not supported");
  }

  // Scales: tensor strategy becomes per channel (the same scale on every row).
  at::Tensor scale = read("weight_scale").to(at::kFloat);
  QScope scope = QScope::PerChannel;
  int64_t group_size = 0;
  if (strategy == "tensor") {
    SLIM_CHECK(scale.numel() == 1, where, ": a per-tensor weight_scale must hold one value");
    scale = scale.reshape({1, 1}).expand({out_features, 1}).contiguous();
  } else if (strategy == "channel") {
    scale = scale.reshape({out_features, 1}).contiguous();
  } else if (strategy == "group") {
    group_size = weights.value("group_size", int64_t{0});
    SLIM_CHECK(group_size > 0 && in_features % group_size == 0, where, ": group_size ", group_size,
               " does not divide the input dim ", in_features);
    scope = QScope::PerGroup;
    SLIM_CHECK(scale.dim() == 2 && scale.size(0) == out_features &&
                   scale.size(1) == in_features / group_size,
               where, ": weight_scale shape does not match the groups");
  } else {
    SLIM_FAIL(where, ": weight strategy ", quote(strategy), " is not supported");
  }
  linear.weight_scale = scale;
  linear.weight_offset = at::zeros_like(scale);
  if (!symmetric) {
    SLIM_CHECK(type == "int", where, ": asymmetric float weights are not supported");
    at::Tensor zero_point = read("weight_zero_point");
    if (dtype_of("weight_zero_point") == io::Dtype::I32 && format == kPackQuantized) {
      zero_point = detail::unpack_int32(zero_point, bits, out_features, 0);
    }
    zero_point = zero_point.to(at::kFloat);
    if (strategy == "tensor") zero_point = zero_point.reshape({1, 1}).expand({out_features, 1});
    linear.weight_offset = zero_point.reshape(scale.sizes()).contiguous();
  }
  linear.weight = make_scheme(weight_dtype, scope, symmetric, group_size);

  // Activations.
  if (input.is_null()) {
    linear.act = make_scheme(QDtype::Float, QScope::PerTensor, true);
  } else {
    const int act_bits = input.value("num_bits", 8);
    const std::string act_type = input.value("type", "int");
    const bool act_symmetric = input.value("symmetric", true);
    const bool dynamic = input.value("dynamic", json(false)) == json(true);
    const std::string act_strategy = input.value("strategy", json(nullptr)).is_string()
                                         ? input["strategy"].get<std::string>()
                                         : "tensor";
    SLIM_CHECK(act_bits == 8, where, ": ", act_bits, "-bit activations are not supported");
    const QDtype act_dtype = act_type == "float" ? QDtype::Fp8E4M3 : QDtype::Int8;
    if (dynamic && act_strategy == "token") {
      linear.act = make_scheme(act_dtype, QScope::PerToken, act_symmetric);
    } else if (!dynamic && act_strategy == "tensor" && act_type == "int") {
      linear.act = make_scheme(QDtype::Int8, QScope::PerTensor, act_symmetric);
      linear.input_scale = read("input_scale").to(at::kFloat).reshape({1}).contiguous();
      linear.input_offset = act_symmetric
                                ? at::zeros({1}, at::kFloat)
                                : read("input_zero_point").to(at::kFloat).reshape({1}).contiguous();
    } else {
      SLIM_FAIL(where, ": ", act_type, " activations with strategy ", quote(act_strategy),
                dynamic ? " (dynamic)" : " (static)", " are not supported");
    }
  }
  try {
    linear.tag = quant::select_deployed_tag(linear.act, linear.weight);
    linear.validate();
  } catch (const Error& error) {
    SLIM_FAIL(where, ": ", error.what());
  }
  return linear;
}

}  // namespace slim::exporter

namespace slim::exporter {

// Hugging Face layout: a tied lm_head is not stored (tie_word_embeddings says so).
bool CompressedTensorsSaver::writes_tied_weights_twice() const {
  return false;
}

}  // namespace slim::exporter
