// GGUF -> Hugging Face directory (see slim/io/gguf_import.h).
#include "slim/io/gguf_import.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <map>
#include <optional>
#include <unordered_map>
#include <unordered_set>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/progress.h"
#include "slim/core/text.h"
#include "slim/io/ggml_quants.h"
#include "slim/io/gguf.h"
#include "slim/io/model_config.h"
#include "slim/io/safetensors.h"
#include "slim/io/tokenizer/gguf_tokenizer.h"
#include "slim/model/architecture.h"
#include "slim/model/family.h"
#include "slim/model/tensor_layout.h"

namespace slim::io {

namespace {

using json = nlohmann::ordered_json;

// GGUF architecture -> Hugging Face architecture, from the families' traits rows: the first
// registered dense family of each llama.cpp architecture (llama -> LlamaForCausalLM, not
// Mistral). `permuted_qk`: convert_hf_to_gguf.py stores attn_q / attn_k with LlamaModel.permute
// applied (rotary halves interleaved per head). MoE architectures are exported, not imported.
struct ArchitectureRow {
  const char* gguf;
  const char* hf;
  bool permuted_qk;
};

const std::vector<ArchitectureRow>& import_architectures() {
  static const std::vector<ArchitectureRow> rows = [] {
    std::vector<ArchitectureRow> out;
    for (const model::FamilySpec* family : model::registered_families()) {
      const model::ArchitectureTraits& traits = family->traits;
      if (traits.gguf.arch == nullptr || traits.moe.experts_key != nullptr) continue;
      const bool seen = std::any_of(out.begin(), out.end(), [&](const ArchitectureRow& row) {
        return std::string(row.gguf) == traits.gguf.arch;
      });
      if (!seen) out.push_back({traits.gguf.arch, traits.name, traits.gguf.permute_qk});
    }
    return out;
  }();
  return rows;
}

std::string supported_gguf_architectures() {
  std::string text;
  for (const auto& row : import_architectures())
    text += (text.empty() ? "" : ", ") + std::string(row.gguf);
  return text;
}

// Tensors llama.cpp adds that have no Hugging Face counterpart: llama3 rope factors (turned back
// into rope_scaling below).
const char* const kRopeFreqs = "rope_freqs.weight";

// The float32 a GGUF key holds, as the shortest decimal that reads back as the same float
// (1e-06f, not 9.999999974752427e-07), so config.json keeps the values the original had.
double tidy(float value) {
  char buffer[32];
  for (int digits = 1; digits <= 9; ++digits) {
    std::snprintf(buffer, sizeof(buffer), "%.*g", digits, static_cast<double>(value));
    if (std::strtof(buffer, nullptr) == value) return std::strtod(buffer, nullptr);
  }
  return static_cast<double>(value);
}

// ----------------------------------------------------------------------- llama3 rope scaling
// llama.cpp stores Llama 3.1+'s rope scaling as a tensor of per-frequency divisors
// (convert_hf_to_gguf.py's generate_extra_tensors). Recompute those divisors from candidate
// parameters and keep the candidate that reproduces them.

struct Llama3Rope {
  double factor, low_freq_factor, high_freq_factor;
  int64_t original_max_position_embeddings;
};

std::vector<double> llama3_factors(const Llama3Rope& p, double theta, int64_t dim) {
  const double kPi = 3.14159265358979323846;
  const double low_wavelen = p.original_max_position_embeddings / p.low_freq_factor;
  const double high_wavelen = p.original_max_position_embeddings / p.high_freq_factor;
  std::vector<double> out;
  for (int64_t i = 0; i < dim; i += 2) {
    const float freq = static_cast<float>(1.0 / std::pow(theta, static_cast<double>(i) / dim));
    const double wavelen = 2 * kPi / freq;
    if (wavelen < high_wavelen) {
      out.push_back(1.0);
    } else if (wavelen > low_wavelen) {
      out.push_back(p.factor);
    } else {
      const double smooth = (p.original_max_position_embeddings / wavelen - p.low_freq_factor) /
                            (p.high_freq_factor - p.low_freq_factor);
      out.push_back(1.0 / ((1 - smooth) / p.factor + smooth));
    }
  }
  return out;
}

bool reproduces(const std::vector<double>& expected, const std::vector<float>& actual) {
  if (expected.size() != actual.size()) return false;
  for (size_t i = 0; i < expected.size(); ++i) {
    if (std::abs(expected[i] - actual[i]) > 1e-4 * std::max(1.0, std::abs(expected[i])))
      return false;
  }
  return true;
}

std::optional<Llama3Rope> recover_llama3_rope(const std::vector<float>& factors, double theta,
                                              int64_t head_dim) {
  const double factor = *std::max_element(factors.begin(), factors.end());
  std::vector<Llama3Rope> candidates = {{factor, 1.0, 4.0, 8192}};  // every Llama 3.1/3.2/3.3
  // Otherwise solve low_freq_factor = 1 and two points of the smooth region for the rest:
  // smooth_i = (1/f_i - 1/factor) / (1 - 1/factor) = (old / wavelen_i - 1) / (high - 1).
  const double kPi = 3.14159265358979323846;
  std::vector<std::pair<double, double>> medium;  // (1 / wavelen, smooth)
  for (size_t i = 0; i < factors.size(); ++i) {
    if (factors[i] > 1.0 + 1e-6 && factors[i] < factor - 1e-6) {
      const double freq = 1.0 / std::pow(theta, 2.0 * static_cast<double>(i) / head_dim);
      const double smooth = (1.0 / factors[i] - 1.0 / factor) / (1.0 - 1.0 / factor);
      medium.emplace_back(freq / (2 * kPi), smooth);
    }
  }
  if (medium.size() >= 2) {
    const auto [x1, s1] = medium.front();
    const auto [x2, s2] = medium.back();
    // old * x - 1 = s * a  for both points  ->  old = (s1 - s2) / (x1 - x2) * a.
    const double k = (s1 - s2) / (x1 - x2);
    const double a = 1.0 / (k * x1 - s1);
    const double old = std::round(k * a);
    if (std::isfinite(a) && a > 0 && old > 0)
      candidates.push_back({factor, 1.0, 1.0 + a, static_cast<int64_t>(old)});
  }
  for (const auto& candidate : candidates) {
    if (reproduces(llama3_factors(candidate, theta, head_dim), factors)) return candidate;
  }
  return std::nullopt;
}

// ---------------------------------------------------------------------------------- config

struct Geometry {
  const ArchitectureRow* arch = nullptr;
  std::string key_prefix;  // "llama."
  int64_t vocab_size = 0;
  int64_t hidden = 0;
  int64_t intermediate = 0;
  int64_t layers = 0;
  int64_t heads = 0;
  int64_t kv_heads = 0;
  int64_t head_dim = 0;
};

const ArchitectureRow& find_row(const GgufFile& gguf) {
  const std::string arch = gguf.get_string("general.architecture");
  for (const auto& row : import_architectures()) {
    if (arch == row.gguf) return row;
  }
  SLIM_FAIL(gguf.path(), ": general.architecture is ", quote(arch),
            "; Slim imports these GGUF architectures: ", supported_gguf_architectures());
}

// Rows of a 2-D GGUF tensor (ggml dims[1]); throws naming the tensor when it is not 2-D.
int64_t rows_of(const GgufFile& gguf, const std::string& name) {
  const auto& info = gguf.tensor(name);
  SLIM_CHECK(info.dims.size() == 2, gguf.path(), ": tensor ", quote(name), " has ",
             info.dims.size(), " dimensions, expected 2");
  return info.dims[1];
}

json config_json(const GgufFile& gguf, const ArchitectureRow& row, c10::ScalarType dtype,
                 Geometry* geometry) {
  const std::string& path = gguf.path();
  const std::string p = std::string(row.gguf) + ".";
  const model::ArchitectureTraits* traits = model::find_architecture(row.hf);
  SLIM_INTERNAL_ASSERT(traits != nullptr, "no traits for ", row.hf);
  Geometry& g = *geometry;
  g.arch = &row;
  g.key_prefix = p;

  SLIM_CHECK(gguf.has_tensor("token_embd.weight"), path,
             ": no tensor 'token_embd.weight' (the token embeddings); is this a vocab-only file? "
             "(--vocab_only writes just the tokenizer)");
  const auto& embedding = gguf.tensor("token_embd.weight");
  SLIM_CHECK(embedding.dims.size() == 2, path, ": tensor 'token_embd.weight' has ",
             embedding.dims.size(), " dimensions, expected 2");
  g.hidden = gguf.get_int(p + "embedding_length");
  SLIM_CHECK(embedding.dims[0] == g.hidden, path, ": tensor 'token_embd.weight' rows have ",
             embedding.dims[0], " elements but ", p, "embedding_length is ", g.hidden);
  g.vocab_size = embedding.dims[1];
  if (const auto declared = gguf.get_int_opt(p + "vocab_size")) {
    SLIM_CHECK(*declared == g.vocab_size, path, ": ", p, "vocab_size is ", *declared,
               " but tensor 'token_embd.weight' has ", g.vocab_size, " rows");
  }
  g.layers = gguf.get_int(p + "block_count");
  g.intermediate = gguf.get_int(p + "feed_forward_length");
  g.heads = gguf.get_int(p + "attention.head_count");
  g.kv_heads = gguf.get_int_opt(p + "attention.head_count_kv").value_or(g.heads);
  SLIM_CHECK(g.heads > 0 && g.kv_heads > 0 && g.layers > 0, path, ": ", p, "attention.head_count (",
             g.heads, "), attention.head_count_kv (", g.kv_heads, ") and block_count (", g.layers,
             ") must be positive");
  if (const auto key_length = gguf.get_int_opt(p + "attention.key_length")) {
    g.head_dim = *key_length;
    const auto value_length = gguf.get_int_opt(p + "attention.value_length");
    SLIM_CHECK(!value_length || *value_length == g.head_dim, path, ": ", p,
               "attention.value_length (", *value_length, ") differs from ", p,
               "attention.key_length (", g.head_dim, "), which Hugging Face models do not support");
  } else if (gguf.has_tensor("blk.0.attn_q.weight")) {
    g.head_dim = rows_of(gguf, "blk.0.attn_q.weight") / g.heads;
  } else {
    g.head_dim = g.hidden / g.heads;
  }
  if (const auto rope_dims = gguf.get_int_opt(p + "rope.dimension_count")) {
    SLIM_CHECK(*rope_dims == g.head_dim, path, ": ", p, "rope.dimension_count is ", *rope_dims,
               " but the head dimension is ", g.head_dim,
               "; partial rotary embeddings are not supported");
  }

  json config;
  config["architectures"] = {row.hf};
  config["model_type"] = traits->model_type;
  config["vocab_size"] = g.vocab_size;
  config["hidden_size"] = g.hidden;
  config["intermediate_size"] = g.intermediate;
  config["num_hidden_layers"] = g.layers;
  config["num_attention_heads"] = g.heads;
  config["num_key_value_heads"] = g.kv_heads;
  config["head_dim"] = g.head_dim;
  config["hidden_act"] = "silu";
  config["max_position_embeddings"] =
      gguf.get_int_opt(p + "context_length").value_or(traits->default_max_position_embeddings);
  const auto eps = gguf.get_f32_opt(p + "attention.layer_norm_rms_epsilon");
  if (!eps) {
    spdlog::warn("{}: {}attention.layer_norm_rms_epsilon is missing; using {}'s default {}", path,
                 p, row.hf, traits->default_rms_norm_eps);
  }
  config["rms_norm_eps"] = eps ? tidy(*eps) : traits->default_rms_norm_eps;
  const double theta = gguf.get_f32_opt(p + "rope.freq_base").has_value()
                           ? tidy(gguf.get_f32(p + "rope.freq_base"))
                           : traits->default_rope_theta;
  config["rope_theta"] = theta;

  // Rope scaling.
  json rope = nullptr;
  const std::string scaling = gguf.get_string_opt(p + "rope.scaling.type").value_or("none");
  if (scaling == "linear") {
    rope = {{"rope_type", "linear"}, {"factor", tidy(gguf.get_f32(p + "rope.scaling.factor"))}};
  } else if (scaling == "yarn") {
    rope = {{"rope_type", "yarn"},
            {"factor", tidy(gguf.get_f32(p + "rope.scaling.factor"))},
            {"original_max_position_embeddings",
             gguf.get_int(p + "rope.scaling.original_context_length")}};
    if (auto v = gguf.get_f32_opt(p + "rope.scaling.yarn_attn_factor"))
      rope["attention_factor"] = tidy(*v);
    if (auto v = gguf.get_f32_opt(p + "rope.scaling.yarn_beta_fast")) rope["beta_fast"] = tidy(*v);
    if (auto v = gguf.get_f32_opt(p + "rope.scaling.yarn_beta_slow")) rope["beta_slow"] = tidy(*v);
    if (auto v = gguf.get_f32_opt(p + "rope.scaling.yarn_ext_factor"); v && *v != 1.0f) {
      spdlog::warn("{}: {}rope.scaling.yarn_ext_factor {} has no Hugging Face equivalent; ignored",
                   path, p, *v);
    }
  } else if (scaling != "none") {
    SLIM_FAIL(path, ": ", p, "rope.scaling.type is ", quote(scaling),
              "; Slim imports 'none', 'linear' and 'yarn' (and llama3 scaling from rope_freqs)");
  } else if (auto linear = gguf.get_f32_opt(p + "rope.scale_linear"); linear && *linear != 1.0f) {
    rope = {{"rope_type", "linear"}, {"factor", tidy(*linear)}};  // older files
  }
  if (gguf.has_tensor(kRopeFreqs)) {
    SLIM_CHECK(rope.is_null(), path, ": both ", p, "rope.scaling.type ", quote(scaling),
               " and tensor '", kRopeFreqs, "' describe rope scaling");
    const auto& info = gguf.tensor(kRopeFreqs);
    const at::Tensor values = dequantize_gguf_tensor(gguf, info).reshape({-1});
    std::vector<float> factors(values.data_ptr<float>(), values.data_ptr<float>() + values.numel());
    SLIM_CHECK(static_cast<int64_t>(factors.size()) * 2 == g.head_dim, path, ": tensor '",
               kRopeFreqs, "' has ", factors.size(),
               " values, expected head_dim / 2 = ", g.head_dim / 2);
    const bool all_one =
        std::all_of(factors.begin(), factors.end(), [](float f) { return f == 1.0f; });
    if (!all_one) {
      const auto recovered = recover_llama3_rope(factors, theta, g.head_dim);
      SLIM_CHECK(recovered.has_value(), path, ": tensor '", kRopeFreqs,
                 "' holds rope frequency factors that no llama3 rope scaling reproduces; they "
                 "cannot be expressed in config.json");
      rope = {{"rope_type", "llama3"},
              {"factor", recovered->factor},
              {"low_freq_factor", recovered->low_freq_factor},
              {"high_freq_factor", recovered->high_freq_factor},
              {"original_max_position_embeddings", recovered->original_max_position_embeddings}};
    }
  }
  config["rope_scaling"] = rope;

  // Biases: what the tensors of layer 0 hold.
  const auto has = [&](const std::string& name) { return gguf.has_tensor("blk.0." + name); };
  const bool qkv_bias = has("attn_q.bias") || has("attn_k.bias") || has("attn_v.bias");
  const bool o_bias = has("attn_output.bias");
  const bool mlp_bias = has("ffn_gate.bias") || has("ffn_up.bias") || has("ffn_down.bias");
  if (traits->attention_bias_key) {
    SLIM_CHECK(qkv_bias == o_bias, path, ": layer 0 has biases on ",
               qkv_bias ? "q/k/v but not on attn_output" : "attn_output but not on q/k/v", "; ",
               row.hf, " has biases on all four projections or none");
    config["attention_bias"] = qkv_bias;
  } else {
    SLIM_CHECK(!o_bias, path, ": tensor 'blk.0.attn_output.bias' has no place in ", row.hf);
  }
  if (traits->mlp_bias_key) {
    config["mlp_bias"] = mlp_bias;
  } else {
    SLIM_CHECK(!mlp_bias, path, ": layer 0 has feed-forward biases, which ", row.hf, " lacks");
  }
  if (traits->window_rule == model::WindowRule::WithFlag) {
    config["use_sliding_window"] = false;
    config["max_window_layers"] = g.layers;
  }
  config["tie_word_embeddings"] = !gguf.has_tensor("output.weight");

  if (const auto bos = gguf.get_int_opt("tokenizer.ggml.bos_token_id"))
    config["bos_token_id"] = *bos;
  if (const auto eos = gguf.get_int_opt("tokenizer.ggml.eos_token_id"))
    config["eos_token_id"] = *eos;
  SLIM_CHECK(dtype == c10::kBFloat16 || dtype == c10::kHalf || dtype == c10::kFloat,
             "GGUF import: output dtype ", c10::toString(dtype), " is not bf16, fp16 or fp32");
  config["torch_dtype"] = torch_dtype_name(dtype);
  return config;
}

json generation_config_json(const GgufFile& gguf) {
  json generation = json::object();
  if (const auto bos = gguf.get_int_opt("tokenizer.ggml.bos_token_id"))
    generation["bos_token_id"] = *bos;
  // Generation stops at EOS and, for chat models, at the end-of-turn tokens llama.cpp records.
  std::vector<int64_t> stops;
  for (const char* key : {"tokenizer.ggml.eos_token_id", "tokenizer.ggml.eot_token_id",
                          "tokenizer.ggml.eom_token_id"}) {
    if (const auto id = gguf.get_int_opt(key);
        id && std::find(stops.begin(), stops.end(), *id) == stops.end())
      stops.push_back(*id);
  }
  if (stops.size() == 1) generation["eos_token_id"] = stops[0];
  if (stops.size() > 1) generation["eos_token_id"] = stops;
  if (const auto pad = gguf.get_int_opt("tokenizer.ggml.padding_token_id"))
    generation["pad_token_id"] = *pad;
  return generation;
}

// Inverse of convert_hf_to_gguf.py's LlamaModel.permute for a q or k weight [rows, cols] (or
// bias [rows]) of `heads` heads: GGUF rows are, per head, (pair index, half) interleaved; HF rows
// are (half, pair index).
at::Tensor unpermute_qk(const at::Tensor& tensor, int64_t heads, const std::string& name) {
  const int64_t rows = tensor.size(0);
  SLIM_CHECK(rows % (2 * heads) == 0, "tensor ", quote(name), ": ", rows,
             " rows cannot be split into ", heads, " heads of rotary pairs");
  std::vector<int64_t> shape = {heads, rows / heads / 2, 2};
  for (int64_t d = 1; d < tensor.dim(); ++d)
    shape.push_back(tensor.size(d));
  return tensor.reshape(shape).transpose(1, 2).reshape(tensor.sizes()).contiguous();
}

}  // namespace

std::string hf_tensor_name(const std::string& gguf_name) {
  const model::GlobalTensorNames& global = model::global_tensor_names();
  if (gguf_name == global.gguf_embedding) return global.embedding;
  if (gguf_name == global.gguf_final_norm) return global.final_norm;
  if (gguf_name == global.gguf_lm_head) return global.lm_head;
  const std::string prefix = "blk.";
  if (gguf_name.compare(0, prefix.size(), prefix) != 0) return "";
  const size_t dot = gguf_name.find('.', prefix.size());
  if (dot == std::string::npos || dot == prefix.size()) return "";
  const std::string layer = gguf_name.substr(prefix.size(), dot - prefix.size());
  if (layer.size() > 1 && layer[0] == '0') return "";
  // The architectures this import reads share their per-layer names (the role tables); qwen3
  // adds the per-head norms.
  for (const auto& row : import_architectures()) {
    const std::string name = model::hf_name_of_gguf(row.gguf, gguf_name);
    if (!name.empty()) return name;
  }
  return "";
}

json hf_config_from_gguf(const GgufFile& gguf, c10::ScalarType dtype) {
  Geometry geometry;
  return config_json(gguf, find_row(gguf), dtype, &geometry);
}

at::Tensor hf_tensor_from_gguf(const GgufFile& gguf, const GgufTensorInfo& info, int64_t heads,
                               int64_t kv_heads, c10::ScalarType dtype) {
  at::Tensor value = dequantize_gguf_tensor(gguf, info, dtype);
  if (find_row(gguf).permuted_qk) {
    const std::string& n = info.name;
    if (ends_with(n, ".attn_q.weight") || ends_with(n, ".attn_q.bias"))
      value = unpermute_qk(value, heads, n);
    else if (ends_with(n, ".attn_k.weight") || ends_with(n, ".attn_k.bias"))
      value = unpermute_qk(value, kv_heads, n);
  }
  return value;
}

GgufImportSummary import_gguf(const GgufImportOptions& options) {
  SLIM_CHECK(!options.gguf_path.empty(), "GGUF import: no input file given");
  SLIM_CHECK(!options.save_path.empty(), "GGUF import: no output directory given");
  const auto gguf = GgufFile::open(options.gguf_path);
  const std::string& path = gguf->path();
  if (const auto splits = gguf->get_int_opt("split.count"); splits && *splits > 1) {
    SLIM_FAIL(path, ": this is part ", gguf->get_int_opt("split.no").value_or(0) + 1, " of a GGUF ",
              "split into ", *splits, " files; merge them first (llama-gguf-split --merge)");
  }
  GgufImportSummary summary;

  if (options.vocab_only) {
    AtomicOutputDir output(options.save_path, options.overwrite);
    summary.files = write_hf_tokenizer(*gguf, output.path());
    output.commit();
    std::sort(summary.files.begin(), summary.files.end());
    spdlog::info("wrote the tokenizer of {} to {}", path, options.save_path);
    return summary;
  }

  const ArchitectureRow& row = find_row(*gguf);
  const json config = hf_config_from_gguf(*gguf, options.dtype);
  const std::string config_text = json_file_text(config);
  // Our own parser validates the geometry with the rules every Slim command applies.
  const ModelConfig parsed =
      parse_model_config(nlohmann::json::parse(config_text), path + " (as config.json)");
  const auto expected = model::expected_tensors(parsed);

  // GGUF tensors by their Hugging Face names; anything unknown is an error, not silently dropped.
  std::unordered_map<std::string, const GgufTensorInfo*> by_hf_name;
  std::map<std::string, int64_t> source_types;
  for (const auto& info : gguf->tensors()) {
    if (info.name == kRopeFreqs) continue;
    const std::string hf = hf_tensor_name(info.name);
    SLIM_CHECK(!hf.empty(), path, ": tensor ", quote(info.name), " has no counterpart in ", row.hf,
               " (Slim imports dense llama / qwen2 / qwen3 decoders)");
    by_hf_name[hf] = &info;
    ++source_types[ggml_type_name(static_cast<uint32_t>(info.type))];
  }
  std::unordered_set<std::string> used;
  for (const auto& tensor : expected) {
    const auto it = by_hf_name.find(tensor.name);
    SLIM_CHECK(it != by_hf_name.end(), path, ": no tensor for ", quote(tensor.name), " (", row.hf,
               " with this configuration needs it)");
    used.insert(tensor.name);
  }
  for (const auto& [hf, info] : by_hf_name) {
    SLIM_CHECK(used.count(hf) != 0, path, ": tensor ", quote(info->name), " (", quote(hf),
               ") is not part of ", row.hf, " with this configuration");
  }
  std::string types_text;
  for (const auto& [type, count] : source_types)
    types_text += (types_text.empty() ? "" : ", ") + std::to_string(count) + " " + type;
  spdlog::info("importing {} ({}: {} layers, hidden {}, vocabulary {}; tensors: {})", path, row.hf,
               parsed.num_hidden_layers, parsed.hidden_size, parsed.vocab_size, types_text);

  AtomicOutputDir output(options.save_path, options.overwrite);
  SafetensorsWriterOptions writer_options;
  writer_options.max_shard_bytes = options.max_shard_bytes;
  writer_options.metadata = {{"format", "pt"}};
  SafetensorsWriter writer(output.path(), writer_options);
  Progress progress("gguf import", static_cast<int64_t>(expected.size()), "tensors");
  for (const auto& tensor : expected) {
    const GgufTensorInfo& info = *by_hf_name.at(tensor.name);
    std::vector<int64_t> shape(info.dims.rbegin(), info.dims.rend());
    SLIM_CHECK(shape == tensor.shape, path, ": tensor ", quote(info.name), " has shape ",
               shape_text(info.dims), " (ggml order), i.e. ", shape_text(shape), " for ",
               quote(tensor.name), ", but the configuration needs ", shape_text(tensor.shape));
    const at::Tensor value = hf_tensor_from_gguf(*gguf, info, parsed.num_attention_heads,
                                                 parsed.num_key_value_heads, options.dtype);
    writer.add(tensor.name, value);
    progress.advance();
  }
  progress.finish();
  summary.files = writer.finish();
  write_file(output.path() + "/config.json", config_text);
  write_json_file(output.path() + "/generation_config.json", generation_config_json(*gguf));
  summary.files.push_back("config.json");
  summary.files.push_back("generation_config.json");
  if (gguf->contains("tokenizer.ggml.model")) {
    for (auto& name : write_hf_tokenizer(*gguf, output.path()))
      summary.files.push_back(std::move(name));
  } else {
    spdlog::warn("{}: no tokenizer in the file (tokenizer.ggml.model is missing); none written",
                 path);
  }
  output.commit();
  std::sort(summary.files.begin(), summary.files.end());
  summary.architecture = row.hf;
  summary.tensors = static_cast<int64_t>(expected.size());
  spdlog::info("wrote {} ({} tensors, {}) to {}", row.hf, summary.tensors,
               c10::toString(options.dtype), options.save_path);
  return summary;
}

}  // namespace slim::io
