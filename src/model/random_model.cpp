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
#include "slim/model/tensor_layout.h"

namespace slim::model {

namespace {

const char* dtype_config_name(c10::ScalarType type) {
  switch (type) {
    case c10::kBFloat16:
      return "bfloat16";
    case c10::kHalf:
      return "float16";
    case c10::kFloat:
      return "float32";
    default:
      SLIM_FAIL("random model: dtype ", c10::toString(type), " is not bf16, fp16 or fp32");
  }
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
  config["bos_token_id"] = 1;
  config["eos_token_id"] = 2;
  config["torch_dtype"] = dtype_config_name(options.dtype);
  if (traits.attention_bias_key) config["attention_bias"] = false;
  if (traits.window_rule == WindowRule::WithFlag) config["use_sliding_window"] = false;
  if (std::string(traits.model_type) == "mistral") config["sliding_window"] = nullptr;
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
  const auto config_text = config_json(options, *traits).dump(2) + "\n";
  // Parsing our own config validates the geometry with the same rules users get.
  const io::ModelConfig config =
      io::parse_model_config(nlohmann::json::parse(config_text), "random model config");

  AtomicOutputDir output(save_path, overwrite);
  write_file(output.path() + "/config.json", config_text);
  nlohmann::ordered_json generation = {
      {"bos_token_id", 1}, {"eos_token_id", 2}, {"do_sample", false}};
  write_file(output.path() + "/generation_config.json", generation.dump(2) + "\n");

  auto generator = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  io::SafetensorsWriterOptions writer_options;
  writer_options.max_shard_bytes = options.max_shard_bytes;
  writer_options.metadata = {{"format", "pt"}};
  io::SafetensorsWriter writer(output.path(), writer_options);
  const auto tensors = expected_tensors(config);
  Progress progress("random model", static_cast<int64_t>(tensors.size()), "tensors");
  for (const auto& expected : tensors) {
    writer.add(expected.name, random_tensor(expected, generator, options.dtype));
    progress.advance();
  }
  progress.finish();
  writer.finish();
  output.commit();
  spdlog::info("wrote random {} ({} layers, hidden {}) to {}", options.architecture,
               options.num_hidden_layers, options.hidden_size, save_path);
}

}  // namespace slim::model
