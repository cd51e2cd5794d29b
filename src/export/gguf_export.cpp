// Hugging Face checkpoint -> GGUF, as llama.cpp's convert_hf_to_gguf.py writes it (LlamaModel,
// Qwen2Model, Qwen3Model).
#include "slim/export/gguf_export.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <cmath>
#include <filesystem>
#include <map>
#include <set>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/progress.h"
#include "slim/core/text.h"
#include "slim/io/gguf_writer.h"
#include "slim/io/safetensors.h"
#include "slim/model/family.h"
#include "slim/model/roles.h"
#include "slim/model/tensor_layout.h"

namespace slim::exporter {

namespace fs = std::filesystem;
using json = nlohmann::json;

namespace {

// The families llama.cpp's converter writes (a GGUF architecture name in their traits row).
const model::FamilySpec* find_export_family(const std::string& name) {
  const model::FamilySpec* family = model::find_family(name);
  return family != nullptr && family->traits.gguf.arch != nullptr ? family : nullptr;
}

std::string supported_text() {
  std::string text;
  for (const auto* family : model::registered_families())
    if (family->traits.gguf.arch) text += str(text.empty() ? "" : ", ", family->traits.name);
  return text;
}

// general.file_type (llama.cpp's LlamaFileType) of each outtype.
struct OutType {
  const char* name;
  io::GgmlType type;
  at::ScalarType scalar;
  uint32_t file_type;
};
const OutType kOutTypes[] = {
    {"f32", io::GgmlType::F32, at::kFloat, 0},
    {"f16", io::GgmlType::F16, at::kHalf, 1},
    {"bf16", io::GgmlType::BF16, at::kBFloat16, 32},
};

const OutType& find_outtype(const std::string& name) {
  for (const auto& row : kOutTypes) {
    if (name == row.name) return row;
  }
  SLIM_FAIL("--outtype: unknown type ", quote(name), "; expected auto, f32, f16 or bf16");
}

// The raw rope parameters as the converter reads them: rope_parameters (transformers 5) or
// rope_scaling, with "type" as the older spelling of "rope_type" and a top-level
// original_max_position_embeddings mirrored in.
json rope_parameters(const json& raw) {
  json rope = json::object();
  if (raw.contains("rope_parameters") && raw["rope_parameters"].is_object())
    rope = raw["rope_parameters"];
  else if (raw.contains("rope_scaling") && raw["rope_scaling"].is_object())
    rope = raw["rope_scaling"];
  if (rope.contains("full_attention") && rope["full_attention"].is_object())
    rope = rope["full_attention"];
  if (!rope.contains("rope_type") && rope.contains("type")) rope["rope_type"] = rope["type"];
  if (!rope.contains("original_max_position_embeddings") &&
      raw.contains("original_max_position_embeddings"))
    rope["original_max_position_embeddings"] = raw["original_max_position_embeddings"];
  return rope;
}

std::optional<double> number_of(const json& object, const char* key) {
  if (object.contains(key) && object[key].is_number()) return object[key].get<double>();
  return std::nullopt;
}

// The GGUF tensor type the converter picks: f32 for 1-D tensors, norms and anything that is not a
// `.weight`; the outtype otherwise.
io::GgmlType tensor_type(const std::string& gguf_name, size_t dims, const OutType& outtype) {
  // The converter keeps MoE routers in f32 too (FFN_GATE_INP).
  if (dims <= 1 || ends_with(gguf_name, "_norm.weight") || !ends_with(gguf_name, ".weight") ||
      gguf_name.find(".ffn_gate_inp") != std::string::npos)
    return io::GgmlType::F32;
  return outtype.type;
}

std::string directory_name(const std::string& path) {
  fs::path p = fs::absolute(fs::path(path)).lexically_normal();
  if (!p.has_filename()) p = p.parent_path();
  return p.filename().string();
}

struct PlannedTensor {
  std::string hf_name;  // empty for generated tensors (rope_freqs)
  // Routed experts: llama.cpp stores one tensor [experts, out, in] per layer and role.
  std::vector<std::string> stacked;
  std::string gguf_name;
  io::GgmlType type;
  std::vector<int64_t> shape;  // row-major
  int64_t permute_heads = 0;   // q/k rows to permute, with this many heads
};

void write_hyperparameters(io::GgufWriter& out, const io::ModelConfig& config,
                           const model::GgufTraits& arch, const OutType& outtype) {
  const std::string a = arch.arch;
  const json& raw = config.raw;
  out.set_u32(a + ".block_count", static_cast<uint32_t>(config.num_hidden_layers));
  out.set_u32(a + ".context_length", static_cast<uint32_t>(config.max_position_embeddings));
  out.set_u32(a + ".embedding_length", static_cast<uint32_t>(config.hidden_size));
  out.set_u32(a + ".feed_forward_length", static_cast<uint32_t>(config.intermediate_size));
  out.set_u32(a + ".attention.head_count", static_cast<uint32_t>(config.num_attention_heads));
  out.set_u32(a + ".attention.head_count_kv", static_cast<uint32_t>(config.num_key_value_heads));
  if (config.moe) {
    const io::MoeConfig& moe = *config.moe;
    out.set_u32(a + ".expert_count", static_cast<uint32_t>(moe.num_experts));
    out.set_u32(a + ".expert_used_count", static_cast<uint32_t>(moe.top_k));
    // Qwen-MoE experts are narrower than the dense feed-forward; Mixtral's are the same width.
    if (config.traits->moe.expert_intermediate_key != std::string("intermediate_size")) {
      out.set_u32(a + ".expert_feed_forward_length",
                  static_cast<uint32_t>(moe.expert_intermediate_size));
    }
    // llama.cpp fixes the renormalisation per architecture: qwen2moe never, the others always.
    const bool llama_cpp_normalises = a != "qwen2moe";
    if (moe.norm_top_k != llama_cpp_normalises) {
      spdlog::warn(
          "gguf: the model {} its top-k routing weights, llama.cpp's {} architecture {}; its "
          "results will differ",
          moe.norm_top_k ? "renormalises" : "does not renormalise", a,
          llama_cpp_normalises ? "always does" : "never does");
    }
    if (moe.shared_expert_intermediate_size > 0) {
      out.set_u32(a + ".expert_shared_feed_forward_length",
                  static_cast<uint32_t>(moe.shared_expert_intermediate_size));
    }
  }

  const json rope = rope_parameters(raw);
  const std::string rope_type = rope.value("rope_type", "");
  const auto factor = number_of(rope, "factor");
  if (rope_type == "linear" && factor) {
    out.set_string(a + ".rope.scaling.type", "linear");
    out.set_f32(a + ".rope.scaling.factor", static_cast<float>(*factor));
  } else if (rope_type == "yarn" && factor) {
    out.set_string(a + ".rope.scaling.type", "yarn");
    out.set_f32(a + ".rope.scaling.factor", static_cast<float>(*factor));
    const auto original = number_of(rope, "original_max_position_embeddings");
    SLIM_CHECK(original.has_value(), config.source,
               ": yarn rope scaling needs original_max_position_embeddings for GGUF "
               "(rope.scaling.original_context_length)");
    out.set_u32(a + ".rope.scaling.original_context_length", static_cast<uint32_t>(*original));
    if (const auto v = number_of(rope, "extrapolation_factor"))
      out.set_f32(a + ".rope.scaling.yarn_ext_factor", static_cast<float>(*v));
    auto attention = number_of(rope, "attention_factor");
    if (!attention) attention = number_of(rope, "attn_factor");
    if (attention)
      out.set_f32(a + ".rope.scaling.yarn_attn_factor", static_cast<float>(*attention));
    if (const auto v = number_of(rope, "beta_fast"))
      out.set_f32(a + ".rope.scaling.yarn_beta_fast", static_cast<float>(*v));
    if (const auto v = number_of(rope, "beta_slow"))
      out.set_f32(a + ".rope.scaling.yarn_beta_slow", static_cast<float>(*v));
  } else if (rope_type == "dynamic") {
    spdlog::warn(
        "gguf: dynamic rope scaling has no GGUF key; llama.cpp runs the model without it (as the "
        "converter's output does)");
  } else if (rope_type == "llama3" && !arch.permute_qk) {
    spdlog::warn(
        "gguf: llama3 rope scaling is exported (rope_freqs) for the llama architecture "
        "only; {} is written without it, as the converter does",
        a);
  }
  out.set_f32(a + ".rope.freq_base", static_cast<float>(config.rope_theta));
  out.set_f32(a + ".attention.layer_norm_rms_epsilon", static_cast<float>(config.rms_norm_eps));
  if (raw.contains("head_dim") && raw["head_dim"].is_number_integer()) {
    out.set_u32(a + ".attention.key_length", static_cast<uint32_t>(config.head_dim));
    out.set_u32(a + ".attention.value_length", static_cast<uint32_t>(config.head_dim));
  }
  out.set_u32("general.file_type", outtype.file_type);
  if (arch.vocab_size_key) {
    out.set_u32(a + ".vocab_size", static_cast<uint32_t>(config.vocab_size));
    out.set_u32(a + ".rope.dimension_count", static_cast<uint32_t>(config.head_dim));
  }
  out.set_u32("general.quantization_version", 2);

  // What llama.cpp's llama and qwen2 architectures do not model (nor does the converter write).
  for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
    const auto window = config.window_of_layer(layer);
    if (window && *window < config.max_position_embeddings) {
      spdlog::warn(
          "gguf: layer {} attends within a sliding window of {} tokens; llama.cpp's {} "
          "architecture attends to the whole context, so results differ beyond {} tokens",
          layer, *window, a, *window);
      break;
    }
  }
}

}  // namespace

std::vector<std::string> gguf_export_architectures() {
  std::vector<std::string> names;
  for (const auto* family : model::registered_families())
    if (family->traits.gguf.arch) names.push_back(family->traits.name);
  return names;
}

std::optional<std::string> gguf_architecture_of(const std::string& hf_architecture) {
  const auto* family = find_export_family(hf_architecture);
  if (family == nullptr) return std::nullopt;
  return std::string(family->traits.gguf.arch);
}

std::optional<std::string> gguf_tensor_name(const std::string& hf_name) {
  const model::GlobalTensorNames& global = model::global_tensor_names();
  if (hf_name == global.embedding) return std::string(global.gguf_embedding);
  if (hf_name == global.final_norm) return std::string(global.gguf_final_norm);
  if (hf_name == global.lm_head) return std::string(global.gguf_lm_head);
  const auto role = model::role_of_name(hf_name);
  if (!role) return std::nullopt;
  return str("blk.", role->layer, ".", role->spec->gguf, ".", role->suffix);
}

at::Tensor permute_rope_rows(const at::Tensor& weight, int64_t heads) {
  SLIM_CHECK(weight.dim() == 1 || weight.dim() == 2,
             "rope permutation: expected 1 or 2 dimensions");
  const int64_t rows = weight.size(0);
  SLIM_CHECK(heads > 0 && rows % (2 * heads) == 0, "rope permutation: ", rows,
             " rows are not a multiple of 2 x ", heads, " heads");
  std::vector<int64_t> split = {heads, 2, rows / heads / 2};
  for (int64_t d = 1; d < weight.dim(); ++d)
    split.push_back(weight.size(d));
  return weight.reshape(split).transpose(1, 2).reshape(weight.sizes()).contiguous();
}

std::vector<float> llama3_rope_factors(const io::ModelConfig& config) {
  const auto& rope = config.rope_scaling;
  const int64_t dim = config.head_dim;
  // As the converter computes them, in float32.
  const at::Tensor freqs =
      1.0 / at::pow(config.rope_theta, at::arange(0, dim, 2, at::kFloat) / static_cast<float>(dim));
  const float factor = static_cast<float>(rope.factor);
  const float low = static_cast<float>(rope.low_freq_factor);
  const float high = static_cast<float>(rope.high_freq_factor);
  const float old_context =
      static_cast<float>(rope.original_max_position_embeddings.value_or(8192));
  const float low_freq_wavelen = old_context / low;
  const float high_freq_wavelen = old_context / high;
  std::vector<float> factors;
  const at::Tensor contiguous = freqs.contiguous();
  const float* f = contiguous.data_ptr<float>();
  for (int64_t i = 0; i < contiguous.numel(); ++i) {
    const float wavelen = static_cast<float>(2 * M_PI) / f[i];
    if (wavelen < high_freq_wavelen) {
      factors.push_back(1.0f);
    } else if (wavelen > low_freq_wavelen) {
      factors.push_back(factor);
    } else {
      const float smooth = (old_context / wavelen - low) / (high - low);
      factors.push_back(1.0f / ((1.0f - smooth) / factor + smooth));
    }
  }
  return factors;
}

GgufExportResult export_gguf(const GgufExportOptions& options) {
  SLIM_CHECK(!options.save_path.empty(), "--save_path is empty");
  const fs::path dir(options.model_path);
  SLIM_CHECK(fs::is_directory(dir), options.model_path,
             ": not a directory (GGUF export reads a Hugging Face model directory)");
  // The architecture first, so that an unsupported one is named before anything else fails.
  const fs::path config_path = dir / "config.json";
  SLIM_CHECK(fs::is_regular_file(config_path), config_path.string(), ": missing");
  json raw;
  try {
    raw = json::parse(read_file(config_path.string()));
  } catch (const json::exception& error) {
    SLIM_FAIL(config_path.string(), ": invalid JSON: ", error.what());
  }
  std::string hf_arch;
  if (raw.is_object() && raw.contains("architectures") && raw["architectures"].is_array() &&
      !raw["architectures"].empty() && raw["architectures"][0].is_string())
    hf_arch = raw["architectures"][0].get<std::string>();
  const model::FamilySpec* family = find_export_family(hf_arch);
  SLIM_CHECK(family != nullptr, config_path.string(), ": architecture ", quote(hf_arch),
             " cannot be exported to GGUF; supported: ", supported_text());
  std::string outtype_name = options.outtype.empty() ? "auto" : options.outtype;
  if (outtype_name != "auto") find_outtype(outtype_name);  // validate early
  if (options.pre_tokenizer) {
    SLIM_CHECK(!options.pre_tokenizer->empty(), "--gguf_pre: empty pre-tokenizer name");
  }

  // Refuses an existing output before any work (nothing is written until write_header).
  io::GgufWriterOptions writer_options;
  writer_options.overwrite = options.overwrite;
  io::GgufWriter out(options.save_path, writer_options);

  const io::ModelConfig config = io::load_model_config(config_path.string());
  const io::SafetensorsCheckpoint checkpoint = io::SafetensorsCheckpoint::open(options.model_path);
  const GgufVocab vocab = build_gguf_vocab(options.model_path, config, options.pre_tokenizer);

  // ---------------------------------------------------------------------- tensor plan
  const model::GgufTraits* arch = &family->traits.gguf;
  const model::GlobalTensorNames& global = model::global_tensor_names();
  std::vector<model::ExpectedTensor> expected = model::expected_tensors(config);
  if (config.tie_word_embeddings && checkpoint.contains(global.lm_head)) {
    // The converter writes whatever the checkpoint holds.
    expected.push_back(
        {global.lm_head, {config.vocab_size, config.hidden_size}, model::TensorRole::Head});
  }
  for (const auto& tensor : expected) {
    SLIM_CHECK(checkpoint.contains(tensor.name), options.model_path, ": tensor ",
               quote(tensor.name), " is missing from the checkpoint");
    const auto& info = checkpoint.info(tensor.name);
    SLIM_CHECK(info.shape == tensor.shape, options.model_path, ": tensor ", quote(tensor.name),
               " has shape ", at::IntArrayRef(info.shape), ", the config implies ",
               at::IntArrayRef(tensor.shape));
    const auto scalar = io::dtype_scalar_type(info.dtype);
    SLIM_CHECK(scalar && (*scalar == at::kFloat || *scalar == at::kHalf ||
                          *scalar == at::kBFloat16 || *scalar == at::kDouble),
               checkpoint.file_of(tensor.name).path(), ": tensor ", quote(tensor.name),
               " has dtype ", io::dtype_name(info.dtype),
               "; GGUF export reads floating-point checkpoints (F32, F16, BF16, F64)");
  }
  {
    std::set<std::string> known;
    for (const auto& tensor : expected)
      known.insert(tensor.name);
    for (const auto& name : checkpoint.names()) {
      if (known.count(name)) continue;
      const std::string ignored = ".rotary_emb.inv_freq";  // the converter skips it too
      if (ends_with(name, ignored)) continue;
      SLIM_FAIL(options.model_path, ": tensor ", quote(name), " is not part of a ", hf_arch,
                " and has no llama.cpp name");
    }
  }
  if (outtype_name == "auto") {
    outtype_name = "f16";
    // The converter's guess: the first matrix stored in bf16 or f16 decides.
    for (const auto& tensor : expected) {
      if (tensor.shape.size() < 2) continue;
      const auto dtype = checkpoint.info(tensor.name).dtype;
      if (dtype == io::Dtype::BF16 || dtype == io::Dtype::F16) {
        outtype_name = dtype == io::Dtype::BF16 ? "bf16" : "f16";
        break;
      }
    }
  }
  const OutType& outtype = find_outtype(outtype_name);

  std::vector<PlannedTensor> plan;
  const bool llama3_rope = config.rope_scaling.type == "llama3" && arch->permute_qk;
  if (llama3_rope) {
    plan.push_back({"", {}, "rope_freqs.weight", io::GgmlType::F32, {config.head_dim / 2}, 0});
  }
  std::map<std::string, size_t> stacked_at;  // gguf name -> plan position
  for (const auto& tensor : expected) {
    const auto name = gguf_tensor_name(tensor.name);
    SLIM_INTERNAL_ASSERT(name.has_value(), "no GGUF name for ", tensor.name);
    if (tensor.expert >= 0) {
      // Expert e of a stacked tensor: the experts come in index order.
      const auto [at, fresh] = stacked_at.emplace(*name, plan.size());
      if (fresh) {
        std::vector<int64_t> shape = {config.moe->num_experts};
        shape.insert(shape.end(), tensor.shape.begin(), tensor.shape.end());
        plan.push_back({"", {}, *name, tensor_type(*name, shape.size(), outtype), shape, 0});
      }
      plan[at->second].stacked.push_back(tensor.name);
      continue;
    }
    PlannedTensor planned{tensor.name,  {}, *name, tensor_type(*name, tensor.shape.size(), outtype),
                          tensor.shape, 0};
    if (arch->permute_qk && tensor.spec != nullptr) {
      if (tensor.spec->role == std::string(model::roles::kQ))
        planned.permute_heads = config.num_attention_heads;
      if (tensor.spec->role == std::string(model::roles::kK))
        planned.permute_heads = config.num_key_value_heads;
    }
    plan.push_back(std::move(planned));
  }
  if (std::string(arch->arch) == "qwen3" && config.has_o_bias()) {
    spdlog::warn(
        "gguf: llama.cpp's qwen3 architecture has no attn_output bias; llama.cpp will "
        "refuse the extra tensors");
  }

  // ------------------------------------------------------------------------ header
  out.set_string("general.architecture", arch->arch);
  out.set_string("general.type", "model");
  out.set_string("general.name",
                 options.name.empty() ? directory_name(options.model_path) : options.name);
  write_hyperparameters(out, config, *arch, outtype);
  write_gguf_vocab(out, vocab);
  for (const auto& tensor : plan)
    out.add_tensor_info(tensor.gguf_name, tensor.type, tensor.shape);
  spdlog::info("gguf: {} -> {} (architecture {}, {}, tokenizer {} {}{})", options.model_path,
               options.save_path, arch->arch, outtype.name, vocab.model,
               vocab.pre ? "pre " + *vocab.pre : "no pre",
               vocab.pre_reason.empty() ? "" : ": " + vocab.pre_reason);
  out.write_header();

  // -------------------------------------------------------------------------- data
  GgufExportResult result;
  Progress progress("gguf", static_cast<int64_t>(plan.size()), "tensors");
  for (const auto& tensor : plan) {
    at::Tensor data;
    if (!tensor.stacked.empty()) {
      std::vector<at::Tensor> experts;
      for (const auto& name : tensor.stacked)
        experts.push_back(checkpoint.tensor(name));
      data = at::stack(experts);
    } else if (tensor.hf_name.empty()) {
      const std::vector<float> factors = llama3_rope_factors(config);
      data = at::tensor(factors, at::kFloat);
    } else {
      data = checkpoint.tensor(tensor.hf_name);
      if (tensor.permute_heads > 0) data = permute_rope_rows(data, tensor.permute_heads);
    }
    const at::ScalarType target = tensor.type == io::GgmlType::F32 ? at::kFloat : outtype.scalar;
    out.write_tensor(tensor.gguf_name, data.to(target).contiguous());
    progress.advance();
  }
  progress.finish();
  out.finish();

  result.path = options.save_path;
  result.architecture = arch->arch;
  result.outtype = outtype.name;
  result.tokenizer_model = vocab.model;
  result.pre_tokenizer = vocab.pre.value_or("");
  result.tensors = plan.size();
  result.bytes = fs::file_size(options.save_path);
  return result;
}

}  // namespace slim::exporter
