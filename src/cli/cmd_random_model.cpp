// slim random-model --save_path DIR [--arch NAME] [geometry...]
#include "cli/commands.h"
#include "cli/parse_dtype.h"
#include "cli/parse_size.h"
#include "slim/core/error.h"
#include "slim/model/random_model.h"

namespace slim::cli {

namespace {

c10::ScalarType parse_dtype(const std::string& name) {
  if (const auto dtype = parse_float_dtype(name)) return *dtype;
  SLIM_FAIL("--dtype: expected bf16, fp16 or fp32, found ", quote(name));
}

struct RandomModelCli {
  model::RandomModelOptions model;
  std::string save_path;
  std::string dtype = "bf16";
  std::string shard_size = "0";
  bool overwrite = false;
};

}  // namespace

CommandRunner add_random_model_command(CLI::App& app) {
  auto options = std::make_shared<RandomModelCli>();
  auto& m = options->model;
  CLI::App* command = app.add_subcommand(
      "random-model", "Write a small model with random weights in Hugging Face layout");
  command->add_option("--save_path,--save-path", options->save_path, "output directory")
      ->required();
  command->add_option("--arch", m.architecture, "architecture name")->capture_default_str();
  command->add_option("--vocab_size", m.vocab_size)->capture_default_str();
  command->add_option("--hidden_size", m.hidden_size)->capture_default_str();
  command->add_option("--intermediate_size", m.intermediate_size)->capture_default_str();
  command->add_option("--num_hidden_layers,--layers", m.num_hidden_layers)->capture_default_str();
  command->add_option("--num_attention_heads", m.num_attention_heads)->capture_default_str();
  command->add_option("--num_key_value_heads", m.num_key_value_heads)->capture_default_str();
  command->add_option("--head_dim", m.head_dim, "0: hidden_size / heads")->capture_default_str();
  command->add_flag("--tie_word_embeddings", m.tie_word_embeddings);
  command->add_option("--num_experts", m.num_experts, "MoE families: routed experts")
      ->capture_default_str();
  command->add_option("--num_experts_per_tok", m.num_experts_per_tok)->capture_default_str();
  command->add_option("--moe_intermediate_size", m.moe_intermediate_size)->capture_default_str();
  command
      ->add_option("--shared_expert_intermediate_size", m.shared_expert_intermediate_size,
                   "Qwen2-MoE (0: no shared expert)")
      ->capture_default_str();
  command->add_option("--norm_topk_prob", m.norm_topk_prob, "Qwen-MoE: true|false")
      ->capture_default_str();
  command->add_option("--decoder_sparse_step", m.decoder_sparse_step)->capture_default_str();
  command->add_option("--mlp_only_layers", m.mlp_only_layers, "Qwen-MoE: dense layers");
  command->add_option("--dtype", options->dtype, "bf16|fp16|fp32")->capture_default_str();
  command->add_option("--seed", m.seed)->capture_default_str();
  command
      ->add_option("--logit_scale", m.logit_scale,
                   "scale of the final norm (large: peaked next-token distributions)")
      ->capture_default_str();
  command
      ->add_option("--shard_size", options->shard_size,
                   "largest shard, e.g. 64MB (0: a single file)")
      ->capture_default_str();
  command->add_flag("--overwrite", options->overwrite, "replace a non-empty --save_path");
  return [options] {
    options->model.dtype = parse_dtype(options->dtype);
    options->model.max_shard_bytes = parse_size(options->shard_size, "--shard_size");
    model::write_random_model(options->model, options->save_path, options->overwrite);
    return kExitOk;
  };
}

}  // namespace slim::cli
