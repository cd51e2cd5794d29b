// Evaluation of causal language models on text: perplexity over non-overlapping windows (the
// protocol of the GPTQ and SmoothQuant papers), KL divergence against a reference model, and
// greedy generation.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "slim/model/causal_lm.h"

namespace slim::eval {

struct WindowOptions {
  int64_t seq_len = 2048;
  int64_t max_chunks = 0;  // 0: every full window
  bool add_bos = false;    // each window starts with BOS followed by seq_len - 1 text tokens
  int64_t batch_size = 1;  // windows per forward call
};

struct PerplexityResult {
  double perplexity = 0;
  double mean_nll = 0;
  int64_t tokens_scored = 0;
  int64_t windows = 0;
  int64_t dataset_tokens = 0;
  double seconds = 0;
};

struct KldResult {
  double mean_kld = 0;  // mean over scored tokens of KL(reference || model)
  double max_kld = 0;
  double top1_agreement = 0;  // fraction of positions where both argmaxes agree
  double perplexity = 0;      // of the evaluated model
  double reference_perplexity = 0;
  int64_t tokens_scored = 0;
  int64_t windows = 0;
  double seconds = 0;
};

// Concatenates the dataset's samples (joined by "\n\n"), tokenizes without special tokens and cuts
// the result into windows [windows, seq_len] (BOS first when add_bos). Throws when the text is
// shorter than one window.
std::vector<std::vector<int64_t>> make_windows(const std::vector<int64_t>& tokens,
                                               const WindowOptions& options,
                                               std::optional<int64_t> bos_id);

PerplexityResult perplexity(const model::CausalLM& model,
                            const std::vector<std::vector<int64_t>>& windows,
                            int64_t batch_size = 1);

KldResult kl_divergence(const model::CausalLM& model, const model::CausalLM& reference,
                        const std::vector<std::vector<int64_t>>& windows, int64_t batch_size = 1);

// Tokenizes the dataset file with the model directory's tokenizer.
std::vector<int64_t> tokenize_dataset(const std::string& model_path, const std::string& dataset,
                                      std::optional<int64_t>* bos_id);

}  // namespace slim::eval
