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
  // llama.cpp's llama-perplexity protocol instead: the text is tokenized with the tokenizer's
  // special tokens, cut into seq_len chunks whose first token becomes BOS when the tokenizer adds
  // one, and only the second half of each chunk is scored (predictions from positions
  // seq_len/2 .. seq_len-2). It needs at least 2 * seq_len tokens, as llama-perplexity does.
  bool llama_cpp_protocol = false;
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
// llama-perplexity's chunks from the tokens of the whole text encoded with special tokens;
// `bos_id` replaces each chunk's first token when set.
std::vector<std::vector<int64_t>> make_llama_cpp_chunks(const std::vector<int64_t>& tokens,
                                                        const WindowOptions& options,
                                                        std::optional<int64_t> bos_id);
// The first logit position that is scored: 0 for the paper protocol, seq_len/2 for llama.cpp's.
int64_t first_scored_position(const WindowOptions& options);

// Scores the predictions made from logit positions first_scored .. seq_len-2 of every window.
PerplexityResult perplexity(const model::CausalLM& model,
                            const std::vector<std::vector<int64_t>>& windows,
                            int64_t batch_size = 1, int64_t first_scored = 0);

KldResult kl_divergence(const model::CausalLM& model, const model::CausalLM& reference,
                        const std::vector<std::vector<int64_t>>& windows, int64_t batch_size = 1,
                        int64_t first_scored = 0);

struct TokenizedDataset {
  std::vector<int64_t> tokens;        // without special tokens
  std::vector<int64_t> with_special;  // with the tokenizer's template (BOS, ...)
  std::optional<int64_t> bos_id;
  bool adds_bos = false;  // the tokenizer's template starts with BOS
};

// Tokenizes the dataset file with the model directory's tokenizer.
TokenizedDataset tokenize_dataset(const std::string& model_path, const std::string& dataset);
// The windows `options` asks for, from a tokenized dataset.
std::vector<std::vector<int64_t>> windows_for(const TokenizedDataset& dataset,
                                              const WindowOptions& options);

}  // namespace slim::eval
