#include "slim/io/model_config.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <filesystem>
#include <set>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/text.h"
#include "slim/model/architecture.h"

namespace slim::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Typed access to config.json keys; every failure names the file and the key.
class ConfigReader {
 public:
  ConfigReader(const json& object, std::string source, std::string prefix = "")
      : object_(object), source_(std::move(source)), prefix_(std::move(prefix)) {}

  bool has(const std::string& key) const {
    return object_.contains(key) && !object_.at(key).is_null();
  }
  std::string where(const std::string& key) const {
    return str(source_, ": key '", prefix_, key, "'");
  }

  int64_t required_positive_int(const std::string& key) const {
    SLIM_CHECK(has(key), source_, ": missing required key '", prefix_, key, "'");
    return positive_int(key, 0);
  }
  int64_t positive_int(const std::string& key, int64_t fallback) const {
    if (!has(key)) return fallback;
    const json& value = object_.at(key);
    SLIM_CHECK(value.is_number_integer() && value.get<int64_t>() > 0, where(key),
               " must be a positive integer, found ", value.dump());
    return value.get<int64_t>();
  }
  std::optional<int64_t> optional_int(const std::string& key) const {
    if (!has(key)) return std::nullopt;
    const json& value = object_.at(key);
    SLIM_CHECK(value.is_number_integer(), where(key), " must be an integer, found ", value.dump());
    return value.get<int64_t>();
  }
  double number(const std::string& key, double fallback) const {
    if (!has(key)) return fallback;
    const json& value = object_.at(key);
    SLIM_CHECK(value.is_number(), where(key), " must be a number, found ", value.dump());
    return value.get<double>();
  }
  double required_number(const std::string& key) const {
    SLIM_CHECK(has(key), source_, ": missing required key '", prefix_, key, "'");
    return number(key, 0);
  }
  bool boolean(const std::string& key, bool fallback) const {
    if (!has(key)) return fallback;
    const json& value = object_.at(key);
    SLIM_CHECK(value.is_boolean(), where(key), " must be true or false, found ", value.dump());
    return value.get<bool>();
  }
  std::string string(const std::string& key, const std::string& fallback) const {
    if (!has(key)) return fallback;
    const json& value = object_.at(key);
    SLIM_CHECK(value.is_string(), where(key), " must be a string, found ", value.dump());
    return value.get<std::string>();
  }

 private:
  const json& object_;
  std::string source_;
  std::string prefix_;
};

const std::set<std::string> kRopeTypes = {"default", "linear", "dynamic", "yarn", "llama3"};

RopeScaling parse_rope_scaling(const json& object, const std::string& source,
                               const std::string& key_name) {
  SLIM_CHECK(object.is_object(), source, ": key '", key_name, "' must be an object, found ",
             object.dump());
  const ConfigReader reader(object, source, key_name + ".");
  RopeScaling rope;
  // "rope_type" is current; "type" is the older spelling.
  rope.type = reader.string("rope_type", reader.string("type", ""));
  SLIM_CHECK(!rope.type.empty(), source, ": key '", key_name, "' has no 'rope_type'");
  SLIM_CHECK(kRopeTypes.count(rope.type) != 0, reader.where("rope_type"), ": unsupported type ",
             quote(rope.type), "; supported: default, linear, dynamic, yarn, llama3");
  if (rope.type == "default") return rope;

  rope.factor = reader.required_number("factor");
  SLIM_CHECK(rope.factor >= 1.0, reader.where("factor"), " must be >= 1, found ", rope.factor);
  rope.original_max_position_embeddings = reader.optional_int("original_max_position_embeddings");
  if (rope.original_max_position_embeddings) {
    SLIM_CHECK(*rope.original_max_position_embeddings > 0,
               reader.where("original_max_position_embeddings"), " must be positive");
  }
  if (rope.type == "llama3") {
    rope.low_freq_factor = reader.required_number("low_freq_factor");
    rope.high_freq_factor = reader.required_number("high_freq_factor");
    SLIM_CHECK(rope.original_max_position_embeddings.has_value(), source,
               ": missing required key '", key_name,
               ".original_max_position_embeddings' (rope type llama3)");
    // The llama3 formula divides by (high_freq_factor - low_freq_factor).
    SLIM_CHECK(rope.low_freq_factor > 0 && rope.high_freq_factor > rope.low_freq_factor, source,
               ": ", key_name, ": llama3 needs 0 < low_freq_factor < high_freq_factor, found ",
               rope.low_freq_factor, " and ", rope.high_freq_factor);
  } else if (rope.type == "yarn") {
    if (reader.has("attention_factor")) {
      rope.attention_factor = reader.number("attention_factor", 0);
      SLIM_CHECK(*rope.attention_factor >= 0, reader.where("attention_factor"),
                 " must be >= 0, found ", *rope.attention_factor);
    }
    rope.beta_fast = reader.number("beta_fast", rope.beta_fast);
    rope.beta_slow = reader.number("beta_slow", rope.beta_slow);
    SLIM_CHECK(rope.beta_fast > rope.beta_slow, source, ": ", key_name,
               ": yarn needs beta_fast > beta_slow, found ", rope.beta_fast, " and ",
               rope.beta_slow);
    if (reader.has("mscale")) rope.mscale = reader.number("mscale", 0);
    if (reader.has("mscale_all_dim")) rope.mscale_all_dim = reader.number("mscale_all_dim", 0);
  }
  return rope;
}

std::vector<int64_t> parse_token_ids(const json& value, const std::string& where) {
  if (value.is_null()) return {};
  if (value.is_number_integer()) return {value.get<int64_t>()};
  SLIM_CHECK(value.is_array(), where, " must be an integer or a list of integers, found ",
             value.dump());
  std::vector<int64_t> ids;
  for (const auto& id : value) {
    SLIM_CHECK(id.is_number_integer(), where, " must hold integers, found ", id.dump());
    ids.push_back(id.get<int64_t>());
  }
  return ids;
}

MoeConfig parse_moe(const json& object, const ConfigReader& reader, const ModelConfig& config) {
  const model::MoeTraits& traits = config.traits->moe;
  MoeConfig moe;
  moe.num_experts = reader.positive_int(traits.experts_key, traits.default_experts);
  moe.top_k = reader.positive_int("num_experts_per_tok", traits.default_top_k);
  SLIM_CHECK(moe.top_k <= moe.num_experts, reader.where("num_experts_per_tok"), " (", moe.top_k,
             ") exceeds ", traits.experts_key, " (", moe.num_experts, ")");
  moe.expert_intermediate_size =
      reader.positive_int(traits.expert_intermediate_key, traits.default_expert_intermediate);
  if (traits.shared_intermediate_key) {
    // 0 is how a config says "no shared expert".
    const auto shared = reader.optional_int(traits.shared_intermediate_key);
    moe.shared_expert_intermediate_size = shared.value_or(traits.default_shared_intermediate);
    SLIM_CHECK(moe.shared_expert_intermediate_size >= 0,
               reader.where(traits.shared_intermediate_key), " must not be negative");
  }
  moe.norm_top_k =
      traits.top_k_norm == model::TopKNorm::Always || reader.boolean("norm_topk_prob", false);
  if (traits.sparse_step_keys) {
    moe.decoder_sparse_step = reader.positive_int("decoder_sparse_step", 1);
    if (reader.has("mlp_only_layers")) {
      const json& layers = object.at("mlp_only_layers");
      SLIM_CHECK(layers.is_array(), reader.where("mlp_only_layers"),
                 " must be a list of layer indices, found ", layers.dump());
      for (const auto& layer : layers) {
        SLIM_CHECK(layer.is_number_integer() && layer.get<int64_t>() >= 0 &&
                       layer.get<int64_t>() < config.num_hidden_layers,
                   reader.where("mlp_only_layers"), ": ", layer.dump(),
                   " is not a layer index below num_hidden_layers (", config.num_hidden_layers,
                   ")");
        moe.mlp_only_layers.push_back(layer.get<int64_t>());
      }
    }
  }
  return moe;
}

void validate_geometry(const ModelConfig& config, const ConfigReader& reader) {
  SLIM_CHECK(config.num_attention_heads % config.num_key_value_heads == 0, config.source,
             ": num_attention_heads (", config.num_attention_heads,
             ") must be a multiple of num_key_value_heads (", config.num_key_value_heads, ")");
  SLIM_CHECK(config.head_dim % 2 == 0, reader.where("head_dim"),
             ": rotary embeddings need an even head dimension, found ", config.head_dim);
  SLIM_CHECK(config.rms_norm_eps > 0, reader.where("rms_norm_eps"), " must be positive");
  SLIM_CHECK(config.rope_theta > 0, reader.where("rope_theta"), " must be positive");
  for (int64_t id : config.eos_token_ids) {
    SLIM_CHECK(id >= 0 && id < config.vocab_size, reader.where("eos_token_id"), ": id ", id,
               " is outside the vocabulary [0, ", config.vocab_size, ")");
  }
  if (config.bos_token_id) {
    SLIM_CHECK(*config.bos_token_id >= 0 && *config.bos_token_id < config.vocab_size,
               reader.where("bos_token_id"), ": id ", *config.bos_token_id,
               " is outside the vocabulary [0, ", config.vocab_size, ")");
  }
}

}  // namespace

bool ModelConfig::has_qkv_bias() const {
  return (traits->qkv_bias_always && qkv_bias) || (attention_bias && traits->attention_bias_key);
}

bool ModelConfig::has_o_bias() const {
  return attention_bias && traits->attention_bias_key;
}
bool ModelConfig::has_mlp_bias() const {
  return mlp_bias && traits->mlp_bias_key;
}
bool ModelConfig::has_qk_norm() const {
  return traits->qk_norm;
}

bool ModelConfig::is_moe_layer(int64_t layer) const {
  if (!moe) return false;
  if (std::find(moe->mlp_only_layers.begin(), moe->mlp_only_layers.end(), layer) !=
      moe->mlp_only_layers.end())
    return false;
  return moe->num_experts > 0 && (layer + 1) % moe->decoder_sparse_step == 0;
}

std::optional<int64_t> ModelConfig::window_of_layer(int64_t layer) const {
  using model::WindowRule;
  if (!sliding_window || traits->window_rule == WindowRule::None) return std::nullopt;
  // Qwen2/Qwen3 drop the window when the flag is off, even for "sliding_attention" layer types.
  if (traits->window_rule == WindowRule::WithFlag && !use_sliding_window) return std::nullopt;
  if (!layer_types.empty()) {
    if (layer < 0 || layer >= static_cast<int64_t>(layer_types.size())) return std::nullopt;
    return layer_types[layer] == "sliding_attention" ? sliding_window : std::nullopt;
  }
  if (traits->window_rule == WindowRule::Always) return sliding_window;
  return layer >= max_window_layers ? sliding_window : std::nullopt;
}

ModelConfig parse_model_config(const json& object, const std::string& source) {
  SLIM_CHECK(object.is_object(), source, ": expected a JSON object");
  const ConfigReader reader(object, source);
  ModelConfig config;
  config.source = source;
  config.raw = object;

  SLIM_CHECK(reader.has("architectures"), source, ": missing required key 'architectures' (",
             "supported: ", model::supported_architectures_text(), ")");
  const json& architectures = object.at("architectures");
  SLIM_CHECK(architectures.is_array() && !architectures.empty() && architectures[0].is_string(),
             reader.where("architectures"), " must be a non-empty list of names, found ",
             architectures.dump());
  config.architecture = architectures[0].get<std::string>();
  config.traits = model::find_architecture(config.architecture);
  SLIM_CHECK(config.traits != nullptr, source, ": unsupported architecture ",
             quote(config.architecture), "; supported: ", model::supported_architectures_text());
  const auto& traits = *config.traits;
  config.model_type = reader.string("model_type", traits.model_type);

  config.vocab_size = reader.required_positive_int("vocab_size");
  config.hidden_size = reader.required_positive_int("hidden_size");
  config.intermediate_size = reader.required_positive_int("intermediate_size");
  config.num_hidden_layers = reader.required_positive_int("num_hidden_layers");
  config.num_attention_heads = reader.required_positive_int("num_attention_heads");
  config.num_key_value_heads =
      reader.positive_int("num_key_value_heads", config.num_attention_heads);
  if (reader.has("head_dim")) {
    config.head_dim = reader.positive_int("head_dim", 0);
  } else if (traits.default_head_dim > 0) {
    config.head_dim = traits.default_head_dim;
  } else {
    SLIM_CHECK(config.hidden_size % config.num_attention_heads == 0, source, ": hidden_size (",
               config.hidden_size, ") is not a multiple of num_attention_heads (",
               config.num_attention_heads, ") and there is no 'head_dim'");
    config.head_dim = config.hidden_size / config.num_attention_heads;
  }
  config.max_position_embeddings =
      reader.positive_int("max_position_embeddings", traits.default_max_position_embeddings);
  config.rms_norm_eps = reader.number("rms_norm_eps", traits.default_rms_norm_eps);
  config.hidden_act = reader.string("hidden_act", "silu");
  SLIM_CHECK(config.hidden_act == "silu", reader.where("hidden_act"),
             ": only 'silu' is supported, found ", quote(config.hidden_act));

  // Rotary parameters: transformers 5 nests them in rope_parameters.
  config.rope_theta = reader.number("rope_theta", traits.default_rope_theta);
  if (reader.has("rope_parameters")) {
    const json& parameters = object.at("rope_parameters");
    config.rope_scaling = parse_rope_scaling(parameters, source, "rope_parameters");
    config.rope_theta = ConfigReader(parameters, source, "rope_parameters.")
                            .number("rope_theta", config.rope_theta);
  } else if (reader.has("rope_scaling")) {
    config.rope_scaling = parse_rope_scaling(object.at("rope_scaling"), source, "rope_scaling");
  }

  config.tie_word_embeddings = reader.boolean("tie_word_embeddings", false);
  config.attention_bias = reader.boolean("attention_bias", false);
  if (traits.qkv_bias_always) config.qkv_bias = reader.boolean("qkv_bias", true);
  config.mlp_bias = reader.boolean("mlp_bias", false);
  if (object.contains("sliding_window")) {
    if (!object.at("sliding_window").is_null()) {
      config.sliding_window = reader.positive_int("sliding_window", 0);
    }
  } else if (traits.default_sliding_window > 0) {
    config.sliding_window = traits.default_sliding_window;
  }
  config.use_sliding_window = reader.boolean("use_sliding_window", false);
  config.max_window_layers =
      reader.optional_int("max_window_layers").value_or(traits.default_max_window_layers);
  if (reader.has("layer_types")) {
    const json& types = object.at("layer_types");
    SLIM_CHECK(types.is_array() && static_cast<int64_t>(types.size()) == config.num_hidden_layers,
               reader.where("layer_types"), " must list one type per layer (",
               config.num_hidden_layers, ")");
    for (const auto& type : types) {
      SLIM_CHECK(type.is_string() && (type == "full_attention" || type == "sliding_attention"),
                 reader.where("layer_types"),
                 " entries must be 'full_attention' or 'sliding_attention', found ", type.dump());
      config.layer_types.push_back(type.get<std::string>());
    }
  }

  config.dtype = reader.string("dtype", reader.string("torch_dtype", ""));
  if (!config.dtype.empty()) {
    static const std::set<std::string> kDtypes = {"bfloat16", "float16", "float32"};
    SLIM_CHECK(kDtypes.count(config.dtype) != 0,
               reader.where(reader.has("dtype") ? "dtype" : "torch_dtype"),
               ": expected bfloat16, float16 or float32, found ", quote(config.dtype));
  }
  config.bos_token_id = reader.optional_int("bos_token_id");
  config.pad_token_id = reader.optional_int("pad_token_id");
  if (object.contains("eos_token_id")) {
    config.eos_token_ids = parse_token_ids(object.at("eos_token_id"), reader.where("eos_token_id"));
  }
  if (traits.moe.experts_key != nullptr) config.moe = parse_moe(object, reader, config);
  validate_geometry(config, reader);
  return config;
}

const char* torch_dtype_name(c10::ScalarType type) {
  switch (type) {
    case c10::kBFloat16:
      return "bfloat16";
    case c10::kHalf:
      return "float16";
    case c10::kFloat:
      return "float32";
    default:
      SLIM_FAIL("config.json has no dtype name for ", c10::toString(type),
                " (weights are bf16, fp16 or fp32)");
  }
}

std::optional<c10::ScalarType> parse_torch_dtype_name(const std::string& spelled) {
  const std::string name = starts_with(spelled, "torch.") ? spelled.substr(6) : spelled;
  if (name == "bfloat16") return c10::kBFloat16;
  if (name == "float16" || name == "half") return c10::kHalf;
  if (name == "float32" || name == "float") return c10::kFloat;
  return std::nullopt;
}

ModelConfig load_model_config(const std::string& path) {
  const std::string file =
      fs::is_directory(path) ? (fs::path(path) / "config.json").string() : path;
  SLIM_CHECK(fs::exists(file), file,
             ": not found (a Hugging Face model directory needs config.json)");
  return parse_model_config(read_json_file<json>(file), file);
}

}  // namespace slim::io
