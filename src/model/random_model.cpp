#include "slim/model/random_model.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/progress.h"
#include "slim/io/model_config.h"
#include "slim/io/safetensors.h"
#include "slim/model/architecture.h"
#include "slim/model/family.h"
#include "slim/model/tensor_layout.h"

namespace slim::model {

namespace {

// Byte-level tokenizer: ids 0..255 are the bytes; BOS and EOS follow when the vocabulary has room.
constexpr int64_t kFirstSpecialId = 256;

std::string byte_token(int byte) {
  // GPT-2's printable-character map, as the ByteLevel pre-tokenizer expects.
  const bool printable = (byte >= '!' && byte <= '~') || (byte >= 0xA1 && byte <= 0xAC) ||
                         (byte >= 0xAE && byte <= 0xFF);
  int code = byte;
  if (!printable) {
    code = 256;
    for (int b = 0; b < byte; ++b) {
      const bool p = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || (b >= 0xAE && b <= 0xFF);
      if (!p) ++code;
    }
  }
  std::string utf8;
  if (code < 0x80) {
    utf8 += static_cast<char>(code);
  } else {
    utf8 += static_cast<char>(0xC0 | (code >> 6));
    utf8 += static_cast<char>(0x80 | (code & 0x3F));
  }
  return utf8;
}

void write_tokenizer(const RandomModelOptions& options, const std::string& directory) {
  nlohmann::ordered_json vocab = nlohmann::ordered_json::object();
  for (int byte = 0; byte < 256; ++byte)
    vocab[byte_token(byte)] = byte;
  const bool specials = options.vocab_size >= kFirstSpecialId + 2;
  nlohmann::ordered_json added = nlohmann::ordered_json::array();
  nlohmann::ordered_json post = nullptr;
  if (specials) {
    for (const auto& [id, content] : {std::pair<int64_t, const char*>{kFirstSpecialId, "<|bos|>"},
                                      {kFirstSpecialId + 1, "<|eos|>"}}) {
      added.push_back({{"id", id},
                       {"content", content},
                       {"single_word", false},
                       {"lstrip", false},
                       {"rstrip", false},
                       {"normalized", false},
                       {"special", true}});
    }
    post = {
        {"type", "TemplateProcessing"},
        {"single",
         {{{"SpecialToken", {{"id", "<|bos|>"}, {"type_id", 0}}}},
          {{"Sequence", {{"id", "A"}, {"type_id", 0}}}}}},
        {"pair", nlohmann::ordered_json::array()},
        {"special_tokens",
         {{"<|bos|>", {{"id", "<|bos|>"}, {"ids", {kFirstSpecialId}}, {"tokens", {"<|bos|>"}}}}}}};
  }
  const nlohmann::ordered_json tokenizer = {{"version", "1.0"},
                                            {"truncation", nullptr},
                                            {"padding", nullptr},
                                            {"added_tokens", added},
                                            {"normalizer", nullptr},
                                            {"pre_tokenizer",
                                             {{"type", "ByteLevel"},
                                              {"add_prefix_space", false},
                                              {"trim_offsets", true},
                                              {"use_regex", true}}},
                                            {"post_processor", post},
                                            {"decoder",
                                             {{"type", "ByteLevel"},
                                              {"add_prefix_space", false},
                                              {"trim_offsets", true},
                                              {"use_regex", true}}},
                                            {"model",
                                             {{"type", "BPE"},
                                              {"dropout", nullptr},
                                              {"unk_token", nullptr},
                                              {"continuing_subword_prefix", nullptr},
                                              {"end_of_word_suffix", nullptr},
                                              {"fuse_unk", false},
                                              {"byte_fallback", false},
                                              {"vocab", vocab},
                                              {"merges", nlohmann::ordered_json::array()}}}};
  write_file(directory + "/tokenizer.json", tokenizer.dump(1) + "\n");
  nlohmann::ordered_json config = {{"tokenizer_class", "PreTrainedTokenizerFast"},
                                   {"model_max_length", 2048}};
  if (specials) {
    config["bos_token"] = "<|bos|>";
    config["eos_token"] = "<|eos|>";
  }
  write_json_file(directory + "/tokenizer_config.json", config);
}

nlohmann::ordered_json config_json(const RandomModelOptions& options,
                                   const ArchitectureTraits& traits) {
  nlohmann::ordered_json config;
  config["architectures"] = {options.architecture};
  config["model_type"] = traits.model_type;
  config["vocab_size"] = options.vocab_size;
  config["hidden_size"] = options.hidden_size;
  config["intermediate_size"] = options.intermediate_size;
  config["num_hidden_layers"] = options.num_hidden_layers;
  config["num_attention_heads"] = options.num_attention_heads;
  config["num_key_value_heads"] = options.num_key_value_heads;
  config["head_dim"] =
      options.head_dim > 0 ? options.head_dim : options.hidden_size / options.num_attention_heads;
  config["hidden_act"] = "silu";
  config["max_position_embeddings"] = 2048;
  config["rms_norm_eps"] = 1e-6;
  config["rope_theta"] = 10000.0;
  config["tie_word_embeddings"] = options.tie_word_embeddings;
  if (options.vocab_size >= kFirstSpecialId + 2) {
    config["bos_token_id"] = kFirstSpecialId;
    config["eos_token_id"] = kFirstSpecialId + 1;
  }
  config["torch_dtype"] = io::torch_dtype_name(options.dtype);
  if (traits.moe.experts_key != nullptr) {
    const MoeTraits& moe = traits.moe;
    config[moe.experts_key] = options.num_experts;
    config["num_experts_per_tok"] = options.num_experts_per_tok;
    if (moe.expert_intermediate_key != std::string("intermediate_size"))
      config[moe.expert_intermediate_key] = options.moe_intermediate_size;
    if (moe.shared_intermediate_key)
      config[moe.shared_intermediate_key] = options.shared_expert_intermediate_size;
    if (moe.top_k_norm == TopKNorm::ConfigFlag) config["norm_topk_prob"] = options.norm_topk_prob;
    if (moe.sparse_step_keys) {
      config["decoder_sparse_step"] = options.decoder_sparse_step;
      config["mlp_only_layers"] = options.mlp_only_layers;
    }
    // transformers' MoE outputs also return router logits for an auxiliary loss: not ours.
    config["output_router_logits"] = false;
  }
  if (traits.attention_bias_key) config["attention_bias"] = false;
  if (traits.window_rule == WindowRule::WithFlag) config["use_sliding_window"] = false;
  if (traits.window_rule == WindowRule::Always) config["sliding_window"] = nullptr;
  return config;
}

at::Tensor random_tensor(const ExpectedTensor& expected, at::Generator& generator,
                         c10::ScalarType dtype) {
  const auto options = at::TensorOptions().dtype(at::kFloat);
  at::Tensor values;
  if (expected.role == TensorRole::Norm) {
    values = 1.0 + 0.1 * at::randn(expected.shape, generator, options);
  } else if (expected.role == TensorRole::Bias) {
    values = 0.02 * at::randn(expected.shape, generator, options);
  } else {
    values = 0.05 * at::randn(expected.shape, generator, options);
  }
  return values.to(dtype);
}

}  // namespace

void write_random_model(const RandomModelOptions& options, const std::string& save_path,
                        bool overwrite) {
  const ArchitectureTraits* traits = find_architecture(options.architecture);
  SLIM_CHECK(traits != nullptr, "random model: unsupported architecture ",
             quote(options.architecture), "; supported: ", supported_architectures_text());
  const auto config_text = json_file_text(config_json(options, *traits));
  // Parsing our own config validates the geometry with the same rules users get.
  const io::ModelConfig config =
      io::parse_model_config(nlohmann::json::parse(config_text), "random model config");

  AtomicOutputDir output(save_path, overwrite);
  write_file(output.path() + "/config.json", config_text);
  nlohmann::ordered_json generation = {
      {"bos_token_id", 1}, {"eos_token_id", 2}, {"do_sample", false}};
  write_json_file(output.path() + "/generation_config.json", generation);

  if (options.vocab_size >= 256) {
    write_tokenizer(options, output.path());
  } else {
    spdlog::warn(
        "random model: vocabulary of {} is too small for the byte-level tokenizer; none "
        "written",
        options.vocab_size);
  }
  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  io::SafetensorsWriterOptions writer_options;
  writer_options.max_shard_bytes = options.max_shard_bytes;
  writer_options.metadata = {{"format", "pt"}};
  io::SafetensorsWriter writer(output.path(), writer_options);
  const auto tensors = expected_tensors(config);
  Progress progress("random model", static_cast<int64_t>(tensors.size()), "tensors");
  for (const auto& expected : tensors) {
    at::Tensor values = random_tensor(expected, generator, at::kFloat);
    if (expected.name == global_tensor_names().final_norm) values = values * options.logit_scale;
    writer.add(expected.name, values.to(options.dtype));
    progress.advance();
  }
  progress.finish();
  writer.finish();
  output.commit();
  spdlog::info("wrote random {} ({} layers, hidden {}) to {}", options.architecture,
               options.num_hidden_layers, options.hidden_size, save_path);
}

}  // namespace slim::model
