// `slim train`: pre-training of a causal LM from scratch (or from existing weights) on text, with
// the runtime's own model code under autograd, AdamW on fp32 master weights, warmup + cosine
// schedule, clipping, gradient accumulation, periodic held-out evaluation, checkpoints that resume
// exactly, and a Hugging Face model directory as output.
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include "slim/model/causal_lm.h"
#include "slim/train/adamw.h"

namespace slim::train {

struct TrainOptions {
  // The model: a config.json to initialise randomly, or a model directory to continue from.
  std::string config_path;
  std::string init_model;
  std::string tokenizer_path;  // directory with tokenizer.json (+ tokenizer_config.json)
  std::string dataset;         // training text: .jsonl/.json (a document per sample) or .txt
  std::string eval_dataset;    // held-out text (optional): perplexity on seq_len windows
  std::string save_path;       // the Hugging Face model directory written at the end
  std::string checkpoint_dir;  // default: save_path + ".checkpoint"
  bool overwrite = false;      // replace an existing save_path
  bool resume = false;         // continue from checkpoint_dir when it holds a checkpoint

  int64_t seq_len = 256;
  int64_t batch_size = 16;  // sequences per micro-batch
  int64_t grad_accum = 1;   // micro-batches per optimizer step
  int64_t steps = 1000;     // optimizer steps in all
  int64_t warmup_steps = 100;
  double lr = 1e-3;
  double min_lr_ratio = 0.1;
  double clip = 1.0;  // global gradient norm; <= 0: none
  AdamWOptions adamw;
  uint64_t seed = 0;
  double init_std = 0.02;

  int64_t log_every = 10;
  int64_t eval_every = 200;        // 0: only at the end
  int64_t eval_windows = 32;       // held-out windows per periodic evaluation (0: all)
  int64_t final_eval_windows = 0;  // at the end (0: all)
  int64_t checkpoint_every = 100;  // 0: only at interruption and the end
  double time_limit_minutes = 0;   // > 0: checkpoint and stop after this long (resume later)
  int64_t stop_after_steps = 0;    // > 0: checkpoint and stop at this step (tests, time-boxing)

  at::ScalarType save_dtype = at::kBFloat16;
  model::RuntimeOptions runtime;  // device, and the compute dtype (fp32 master weights always)
};

struct EvalPoint {
  int64_t step = 0;
  int64_t tokens = 0;
  double train_loss = 0;
  double eval_ppl = 0;
  int64_t eval_tokens = 0;
};

struct TrainResult {
  bool completed = false;  // false: stopped early (time limit, signal), checkpoint written
  int64_t steps = 0;
  int64_t tokens = 0;
  double seconds = 0;        // wall time of this run
  double total_seconds = 0;  // over every resumed run
  double last_loss = 0;
  std::vector<EvalPoint> evals;
  double final_eval_ppl = 0;
  int64_t final_eval_tokens = 0;
};

TrainResult train(const TrainOptions& options);

// Deterministic initial weights for `config` (normal(0, std) matrices, residual output
// projections scaled by 1/sqrt(2 layers), unit norm gains), fp32 on the CPU.
std::map<std::string, at::Tensor> initial_weights(const io::ModelConfig& config, uint64_t seed,
                                                  double std);

// The order in which training windows are visited: each epoch starts the windows at a random
// offset and shuffles them, both from (seed, epoch), so a resumed run sees the same data.
class WindowOrder {
 public:
  WindowOrder(int64_t stream_tokens, int64_t seq_len, uint64_t seed);
  int64_t windows_per_epoch() const { return per_epoch_; }
  // First token of global window `index` (a window spans seq_len + 1 tokens).
  int64_t start_of(int64_t index);

 private:
  int64_t per_epoch_ = 0;
  int64_t seq_len_ = 0;
  uint64_t seed_ = 0;
  int64_t epoch_ = -1;
  int64_t offset_ = 0;
  std::vector<int64_t> permutation_;
};

}  // namespace slim::train
