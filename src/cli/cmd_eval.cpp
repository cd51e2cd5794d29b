// slim eval ppl | kld
#include <spdlog/spdlog.h>

#include <cstdio>

#include "cli/commands.h"
#include "cli/runtime_options.h"
#include "slim/core/error.h"
#include "slim/eval/evaluate.h"

namespace slim::cli {

namespace {

struct EvalOptions {
  std::string model_path;
  std::string ref_model_path;
  std::string dataset;
  eval::WindowOptions windows;
  RuntimeFlags runtime;
  bool json = false;
};

void add_common(CLI::App& command, EvalOptions& options) {
  command.add_option("--model_path,--model-path", options.model_path, "model directory")
      ->required();
  command.add_option("--dataset", options.dataset, "evaluation text (.txt, .json, .jsonl)")
      ->required();
  command.add_option("--seq_len", options.windows.seq_len, "tokens per window")
      ->capture_default_str();
  command
      .add_option("--max_chunks", options.windows.max_chunks, "evaluate at most N windows (0: all)")
      ->capture_default_str();
  command.add_flag("--add_bos", options.windows.add_bos,
                   "start every window with BOS followed by seq_len - 1 text tokens");
  command.add_option("--batch_size", options.windows.batch_size, "windows per forward pass")
      ->capture_default_str();
  command.add_flag("--llama_cpp_protocol", options.windows.llama_cpp_protocol,
                   "llama-perplexity's protocol: BOS-led chunks, second half of each scored");
  command.add_flag("--json", options.json, "print the result as JSON");
  options.runtime.add_to(command);
}

std::vector<std::vector<int64_t>> windows_for(const EvalOptions& options) {
  SLIM_CHECK(!(options.windows.llama_cpp_protocol && options.windows.add_bos),
             "--add_bos and --llama_cpp_protocol exclude each other (llama.cpp's protocol adds BOS "
             "when the tokenizer does)");
  const auto dataset = eval::tokenize_dataset(options.model_path, options.dataset);
  auto windows = eval::windows_for(dataset, options.windows);
  spdlog::info("{}: {} tokens, {} window(s) of {}", options.dataset, dataset.tokens.size(),
               windows.size(), options.windows.seq_len);
  return windows;
}

int run_ppl(const EvalOptions& options) {
  const auto model = model::CausalLM::open(options.model_path, options.runtime.resolve());
  const auto result = eval::perplexity(*model, windows_for(options), options.windows.batch_size,
                                       eval::first_scored_position(options.windows));
  if (options.json) {
    std::printf(
        "{\"perplexity\": %.6f, \"mean_nll\": %.8f, \"tokens_scored\": %lld, \"windows\": %lld, "
        "\"seconds\": %.3f}\n",
        result.perplexity, result.mean_nll, static_cast<long long>(result.tokens_scored),
        static_cast<long long>(result.windows), result.seconds);
  } else {
    std::printf(
        "perplexity: %.4f\ntokens scored: %lld in %lld window(s) of %lld\ntime: %.2f s (%.1f "
        "tokens/s)\n",
        result.perplexity, static_cast<long long>(result.tokens_scored),
        static_cast<long long>(result.windows), static_cast<long long>(options.windows.seq_len),
        result.seconds, result.tokens_scored / std::max(result.seconds, 1e-9));
  }
  return kExitOk;
}

int run_kld(const EvalOptions& options) {
  const auto runtime = options.runtime.resolve();
  const auto model = model::CausalLM::open(options.model_path, runtime);
  const auto reference = model::CausalLM::open(options.ref_model_path, runtime);
  const auto result =
      eval::kl_divergence(*model, *reference, windows_for(options), options.windows.batch_size,
                          eval::first_scored_position(options.windows));
  if (options.json) {
    std::printf(
        "{\"mean_kld\": %.8f, \"max_kld\": %.8f, \"top1_agreement\": %.6f, \"perplexity\": %.6f, "
        "\"reference_perplexity\": %.6f, \"tokens_scored\": %lld, \"seconds\": %.3f}\n",
        result.mean_kld, result.max_kld, result.top1_agreement, result.perplexity,
        result.reference_perplexity, static_cast<long long>(result.tokens_scored), result.seconds);
  } else {
    std::printf(
        "mean KL divergence: %.6f (max %.6f)\ntop-1 agreement: %.2f%%\nperplexity: %.4f "
        "(reference %.4f)\ntokens scored: %lld\ntime: %.2f s\n",
        result.mean_kld, result.max_kld, 100 * result.top1_agreement, result.perplexity,
        result.reference_perplexity, static_cast<long long>(result.tokens_scored), result.seconds);
  }
  return kExitOk;
}

}  // namespace

CommandRunner add_eval_command(CLI::App& app) {
  auto ppl = std::make_shared<EvalOptions>();
  auto kld = std::make_shared<EvalOptions>();
  CLI::App* command =
      app.add_subcommand("eval", "Evaluate a model: perplexity, KL divergence, logits");
  command->require_subcommand(1);
  CLI::App* ppl_command = command->add_subcommand(
      "ppl", "Token perplexity over non-overlapping windows of the concatenated dataset");
  add_common(*ppl_command, *ppl);
  CLI::App* kld_command = command->add_subcommand(
      "kld", "KL divergence, top-1 agreement and perplexities against a reference model");
  add_common(*kld_command, *kld);
  kld_command
      ->add_option("--ref_model_path,--ref-model-path", kld->ref_model_path,
                   "reference model directory")
      ->required();
  const CommandRunner run_logits = add_eval_logits_command(*command);
  CLI::App* logits_command = command->get_subcommand("logits");
  return [=] {
    if (logits_command->parsed()) return run_logits();
    return ppl_command->parsed() ? run_ppl(*ppl) : run_kld(*kld);
  };
}

}  // namespace slim::cli
