#include "slim/eval/evaluate.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <spdlog/spdlog.h>

#include <chrono>
#include <cmath>

#include "slim/core/error.h"
#include "slim/core/progress.h"
#include "slim/io/dataset.h"
#include "slim/io/tokenizer/tokenizer.h"

namespace slim::eval {

namespace {

double now_seconds() {
  return std::chrono::duration<double>(std::chrono::steady_clock::now().time_since_epoch()).count();
}

// Positions whose logits are computed together (bounds the [positions, vocab] logits buffer).
constexpr int64_t kLogitChunk = 256;

// Runs `model` over a batch of windows to the final normalised hidden states [batch, seq, hidden].
at::Tensor final_hidden(const model::CausalLM& model, const at::Tensor& ids, Progress* progress) {
  auto context = model.make_context(ids.size(0), ids.size(1));
  at::Tensor hidden = model.embed(ids);
  for (int64_t k = 0; k < model.config().num_hidden_layers; ++k) {
    model::DecoderLayer layer = model.load_layer(k);
    hidden = model.run_layer(layer, hidden, context);
    if (progress) progress->advance();
  }
  return model.final_norm(hidden);
}

at::Tensor batch_tensor(const std::vector<std::vector<int64_t>>& windows, size_t begin,
                        size_t end) {
  std::vector<at::Tensor> rows;
  for (size_t i = begin; i < end; ++i)
    rows.push_back(at::tensor(windows[i], at::kLong));
  return at::stack(rows);
}

// Log-probabilities [positions, vocab] (fp32) for hidden rows [positions, hidden].
at::Tensor log_probs(const at::Tensor& lm_head, const at::Tensor& hidden_rows) {
  return at::log_softmax(at::linear(hidden_rows, lm_head).to(at::kFloat), -1);
}

void check_windows(const std::vector<std::vector<int64_t>>& windows) {
  SLIM_CHECK(!windows.empty(), "no evaluation windows");
  for (const auto& window : windows) {
    SLIM_CHECK(window.size() >= 2 && window.size() == windows.front().size(),
               "evaluation windows must share one length of at least 2 tokens");
  }
}

}  // namespace

std::vector<std::vector<int64_t>> make_windows(const std::vector<int64_t>& tokens,
                                               const WindowOptions& options,
                                               std::optional<int64_t> bos_id) {
  SLIM_CHECK(options.seq_len >= 2, "--seq_len must be at least 2, found ", options.seq_len);
  SLIM_CHECK(!options.add_bos || bos_id.has_value(),
             "--add_bos: the tokenizer defines no BOS token");
  const int64_t text_per_window = options.add_bos ? options.seq_len - 1 : options.seq_len;
  int64_t count = static_cast<int64_t>(tokens.size()) / text_per_window;
  SLIM_CHECK(count > 0, "the dataset has ", tokens.size(), " tokens, fewer than one window of ",
             text_per_window, " (lower --seq_len)");
  if (options.max_chunks > 0) count = std::min(count, options.max_chunks);
  std::vector<std::vector<int64_t>> windows;
  for (int64_t w = 0; w < count; ++w) {
    std::vector<int64_t> window;
    window.reserve(options.seq_len);
    if (options.add_bos) window.push_back(*bos_id);
    window.insert(window.end(), tokens.begin() + w * text_per_window,
                  tokens.begin() + (w + 1) * text_per_window);
    windows.push_back(std::move(window));
  }
  return windows;
}

std::vector<std::vector<int64_t>> make_llama_cpp_chunks(const std::vector<int64_t>& tokens,
                                                        const WindowOptions& options,
                                                        std::optional<int64_t> bos_id) {
  SLIM_CHECK(options.seq_len >= 4, "--seq_len must be at least 4 for the llama.cpp protocol");
  SLIM_CHECK(static_cast<int64_t>(tokens.size()) >= 2 * options.seq_len, "the dataset has ",
             tokens.size(), " tokens; the llama.cpp protocol needs at least ", 2 * options.seq_len,
             " (2 x --seq_len), as llama-perplexity does");
  int64_t count = static_cast<int64_t>(tokens.size()) / options.seq_len;
  if (options.max_chunks > 0) count = std::min(count, options.max_chunks);
  std::vector<std::vector<int64_t>> chunks;
  for (int64_t c = 0; c < count; ++c) {
    std::vector<int64_t> chunk(tokens.begin() + c * options.seq_len,
                               tokens.begin() + (c + 1) * options.seq_len);
    if (bos_id) chunk[0] = *bos_id;
    chunks.push_back(std::move(chunk));
  }
  return chunks;
}

int64_t first_scored_position(const WindowOptions& options) {
  return options.llama_cpp_protocol ? options.seq_len / 2 : 0;
}

TokenizedDataset tokenize_dataset(const std::string& model_path, const std::string& dataset) {
  const auto samples = io::load_text_dataset(dataset, io::DatasetUse::Evaluation);
  std::string text;
  for (size_t i = 0; i < samples.size(); ++i) {
    text += (i ? "\n\n" : "") + samples[i];
  }
  const auto tokenizer = io::load_tokenizer(model_path);
  TokenizedDataset result;
  const auto plain = tokenizer->encode(text, /*add_special_tokens=*/false);
  const auto framed = tokenizer->encode(text, /*add_special_tokens=*/true);
  SLIM_CHECK(!plain.empty(), dataset, ": the text encodes to no tokens");
  result.tokens.assign(plain.begin(), plain.end());
  result.with_special.assign(framed.begin(), framed.end());
  if (tokenizer->bos_id()) result.bos_id = *tokenizer->bos_id();
  result.adds_bos = result.bos_id && !framed.empty() && framed.front() == *result.bos_id &&
                    plain.front() != *result.bos_id;
  return result;
}

std::vector<std::vector<int64_t>> windows_for(const TokenizedDataset& dataset,
                                              const WindowOptions& options) {
  if (options.llama_cpp_protocol) {
    return make_llama_cpp_chunks(dataset.with_special, options,
                                 dataset.adds_bos ? dataset.bos_id : std::nullopt);
  }
  return make_windows(dataset.tokens, options, dataset.bos_id);
}

PerplexityResult perplexity(const model::CausalLM& model,
                            const std::vector<std::vector<int64_t>>& windows, int64_t batch_size,
                            int64_t first_scored) {
  check_windows(windows);
  SLIM_CHECK(first_scored >= 0 && first_scored < static_cast<int64_t>(windows.front().size()) - 1,
             "first scored position ", first_scored, " leaves nothing to score");
  const double start = now_seconds();
  const int64_t seq = static_cast<int64_t>(windows.front().size());
  double total_nll = 0;
  int64_t scored = 0;
  const size_t batch = static_cast<size_t>(std::max<int64_t>(batch_size, 1));
  const int64_t batches = static_cast<int64_t>((windows.size() + batch - 1) / batch);
  Progress progress("perplexity", batches * model.config().num_hidden_layers, "layer-batches");
  c10::NoGradGuard no_grad;
  for (size_t begin = 0; begin < windows.size(); begin += batch) {
    const size_t end = std::min(windows.size(), begin + batch);
    const at::Tensor ids = batch_tensor(windows, begin, end);
    const at::Tensor hidden = final_hidden(model, ids, &progress);
    // The head once per batch, after the last layer is gone (it is not kept between calls).
    const at::Tensor head = model.lm_head_weight();
    const at::Tensor targets = ids.narrow(1, 1, seq - 1).to(hidden.device());
    for (int64_t b = 0; b < ids.size(0); ++b) {
      for (int64_t p = first_scored; p < seq - 1; p += kLogitChunk) {
        const int64_t n = std::min(kLogitChunk, seq - 1 - p);
        const at::Tensor lp = log_probs(head, hidden[b].narrow(0, p, n));
        const at::Tensor picked = lp.gather(1, targets[b].narrow(0, p, n).unsqueeze(1));
        total_nll -= picked.to(at::kDouble).sum().item<double>();
        scored += n;
      }
    }
  }
  progress.finish();
  PerplexityResult result;
  result.tokens_scored = scored;
  result.windows = static_cast<int64_t>(windows.size());
  result.mean_nll = total_nll / scored;
  result.perplexity = std::exp(result.mean_nll);
  result.seconds = now_seconds() - start;
  SLIM_CHECK(std::isfinite(result.perplexity), "perplexity is not finite (mean NLL ",
             result.mean_nll, "): the model produced NaN or Inf logits");
  return result;
}

KldResult kl_divergence(const model::CausalLM& model, const model::CausalLM& reference,
                        const std::vector<std::vector<int64_t>>& windows, int64_t batch_size,
                        int64_t first_scored) {
  check_windows(windows);
  SLIM_CHECK(first_scored >= 0 && first_scored < static_cast<int64_t>(windows.front().size()) - 1,
             "first scored position ", first_scored, " leaves nothing to score");
  SLIM_CHECK(model.config().vocab_size == reference.config().vocab_size,
             "the models have different vocabularies (", model.config().vocab_size, " and ",
             reference.config().vocab_size, " tokens)");
  const double start = now_seconds();
  const int64_t seq = static_cast<int64_t>(windows.front().size());
  double kl_sum = 0, kl_max = 0, nll = 0, reference_nll = 0;
  int64_t agree = 0, scored = 0;
  const size_t batch = static_cast<size_t>(std::max<int64_t>(batch_size, 1));
  const int64_t batches = static_cast<int64_t>((windows.size() + batch - 1) / batch);
  Progress progress(
      "kl divergence",
      batches * (model.config().num_hidden_layers + reference.config().num_hidden_layers),
      "layer-batches");
  c10::NoGradGuard no_grad;
  for (size_t begin = 0; begin < windows.size(); begin += batch) {
    const size_t end = std::min(windows.size(), begin + batch);
    const at::Tensor ids = batch_tensor(windows, begin, end);
    const at::Tensor hidden = final_hidden(model, ids, &progress);
    const at::Tensor reference_hidden = final_hidden(reference, ids, &progress).to(hidden.device());
    const at::Tensor head = model.lm_head_weight();
    const at::Tensor reference_head = reference.lm_head_weight();
    const at::Tensor targets = ids.narrow(1, 1, seq - 1).to(hidden.device());
    for (int64_t b = 0; b < ids.size(0); ++b) {
      for (int64_t p = first_scored; p < seq - 1; p += kLogitChunk) {
        const int64_t n = std::min(kLogitChunk, seq - 1 - p);
        const at::Tensor lp = log_probs(head, hidden[b].narrow(0, p, n));
        const at::Tensor ref =
            log_probs(reference_head, reference_hidden[b].narrow(0, p, n)).to(lp.device());
        const at::Tensor kl = (ref.exp() * (ref - lp)).sum(-1).to(at::kDouble);
        kl_sum += kl.sum().item<double>();
        kl_max = std::max(kl_max, kl.max().item<double>());
        agree += (lp.argmax(-1) == ref.argmax(-1)).sum().item<int64_t>();
        const at::Tensor target = targets[b].narrow(0, p, n).unsqueeze(1);
        nll -= lp.gather(1, target).to(at::kDouble).sum().item<double>();
        reference_nll -= ref.gather(1, target).to(at::kDouble).sum().item<double>();
        scored += n;
      }
    }
  }
  progress.finish();
  KldResult result;
  result.tokens_scored = scored;
  result.windows = static_cast<int64_t>(windows.size());
  result.mean_kld = kl_sum / scored;
  result.max_kld = kl_max;
  result.top1_agreement = static_cast<double>(agree) / scored;
  result.perplexity = std::exp(nll / scored);
  result.reference_perplexity = std::exp(reference_nll / scored);
  result.seconds = now_seconds() - start;
  SLIM_CHECK(std::isfinite(result.mean_kld),
             "KL divergence is not finite: a model produced NaN or Inf");
  return result;
}

}  // namespace slim::eval
