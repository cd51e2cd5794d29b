// slim train --config CONFIG.json --tokenizer DIR --dataset TRAIN --save_path OUT [options]
#include <spdlog/spdlog.h>

#include "cli/commands.h"
#include "cli/parse_dtype.h"
#include "cli/runtime_options.h"
#include "slim/core/error.h"
#include "slim/train/trainer.h"

namespace slim::cli {

namespace {
struct TrainCli {
  train::TrainOptions options;
  std::string save_dtype = "bf16";
  RuntimeFlags runtime;
};

at::ScalarType parse_save_dtype(const std::string& name) {
  if (const auto dtype = parse_float_dtype(name)) return *dtype;
  SLIM_FAIL("--save_dtype must be bf16, fp16 or fp32, got '", name, "'");
}
}  // namespace

CommandRunner add_train_command(CLI::App& app) {
  auto cli = std::make_shared<TrainCli>();
  train::TrainOptions& o = cli->options;
  CLI::App* command = app.add_subcommand(
      "train", "Train a causal LM on text (AdamW, warmup + cosine, checkpoints, resume)");
  auto* model_group = command->add_option_group("model", "what to train (one of the two)");
  model_group->add_option("--config", o.config_path,
                          "config.json of the model to create with random weights");
  model_group->add_option("--init_model,--init-model", o.init_model,
                          "a model directory whose weights to continue from");
  model_group->require_option(1);
  command
      ->add_option("--tokenizer", o.tokenizer_path,
                   "directory with tokenizer.json (copied into the output)")
      ->required();
  command
      ->add_option("--dataset", o.dataset,
                   "training text: .jsonl/.json (one document per sample) or .txt")
      ->required();
  command->add_option("--eval_dataset,--eval-dataset", o.eval_dataset,
                      "held-out text for perplexity (seq_len windows)");
  command->add_option("--save_path,--save-path", o.save_path, "output Hugging Face model directory")
      ->required();
  command->add_option("--checkpoint_dir", o.checkpoint_dir,
                      "where checkpoints go (default: SAVE_PATH.checkpoint)");
  command->add_flag("--resume", o.resume, "continue from the checkpoint when there is one");
  command->add_flag("--overwrite", o.overwrite,
                    "replace an existing output directory and ignore an old checkpoint");
  command->add_option("--seq_len", o.seq_len, "tokens per training window")->capture_default_str();
  command->add_option("--batch_size", o.batch_size, "windows per micro-batch")
      ->capture_default_str();
  command->add_option("--grad_accum", o.grad_accum, "micro-batches per optimizer step")
      ->capture_default_str();
  command->add_option("--steps", o.steps, "optimizer steps in all")->capture_default_str();
  command->add_option("--warmup_steps", o.warmup_steps)->capture_default_str();
  command->add_option("--lr", o.lr, "peak learning rate")->capture_default_str();
  command->add_option("--min_lr_ratio", o.min_lr_ratio, "final learning rate / peak")
      ->capture_default_str();
  command->add_option("--clip", o.clip, "global gradient-norm clip (0: none)")
      ->capture_default_str();
  command->add_option("--weight_decay", o.adamw.weight_decay, "AdamW decoupled weight decay")
      ->capture_default_str();
  command->add_option("--beta1", o.adamw.beta1)->capture_default_str();
  command->add_option("--beta2", o.adamw.beta2)->capture_default_str();
  command->add_option("--adam_eps", o.adamw.eps)->capture_default_str();
  command->add_option("--seed", o.seed, "initial weights and data order")->capture_default_str();
  command->add_option("--init_std", o.init_std, "std of the initial weights")
      ->capture_default_str();
  command->add_option("--log_every", o.log_every, "steps between progress lines")
      ->capture_default_str();
  command->add_option("--eval_every", o.eval_every, "steps between evaluations (0: at the end)")
      ->capture_default_str();
  command
      ->add_option("--eval_windows", o.eval_windows,
                   "held-out windows per periodic evaluation (0: all)")
      ->capture_default_str();
  command
      ->add_option("--final_eval_windows", o.final_eval_windows,
                   "held-out windows of the final evaluation (0: all)")
      ->capture_default_str();
  command
      ->add_option("--checkpoint_every", o.checkpoint_every,
                   "steps between checkpoints (0: only when stopping)")
      ->capture_default_str();
  command
      ->add_option("--time_limit_minutes", o.time_limit_minutes,
                   "checkpoint and stop after this long (0: no limit)")
      ->capture_default_str();
  command
      ->add_option("--stop_after_steps", o.stop_after_steps,
                   "checkpoint and stop at this step (0: run to --steps)")
      ->capture_default_str();
  command->add_option("--save_dtype", cli->save_dtype, "bf16|fp16|fp32 weights in the output")
      ->capture_default_str();
  cli->runtime.add_to(*command);
  return [cli] {
    train::TrainOptions options = cli->options;
    options.save_dtype = parse_save_dtype(cli->save_dtype);
    options.runtime = cli->runtime.resolve();
    const train::TrainResult result = train::train(options);
    return result.completed ? kExitOk : kExitProblems;
  };
}

}  // namespace slim::cli
