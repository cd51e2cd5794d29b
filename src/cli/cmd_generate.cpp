// slim generate --model_path DIR --prompt S [--max_new_tokens N]
#include <cstdio>

#include "cli/commands.h"
#include "cli/runtime_options.h"
#include "slim/eval/generate.h"
#include "slim/io/tokenizer/tokenizer.h"

namespace slim::cli {

namespace {
struct GenerateCli {
  std::string model_path;
  std::string prompt;
  int64_t max_new_tokens = 64;
  RuntimeFlags runtime;
};
}  // namespace

CommandRunner add_generate_command(CLI::App& app) {
  auto options = std::make_shared<GenerateCli>();
  CLI::App* command = app.add_subcommand("generate", "Greedy text generation (a sanity check)");
  command->add_option("--model_path,--model-path", options->model_path, "model directory")
      ->required();
  command->add_option("--prompt", options->prompt, "text to continue")->required();
  command->add_option("--max_new_tokens", options->max_new_tokens)->capture_default_str();
  options->runtime.add_to(*command);
  return [options] {
    auto model = model::CausalLM::open(options->model_path, options->runtime.resolve());
    const auto tokenizer = io::load_tokenizer(options->model_path);
    const auto prompt_ids = tokenizer->encode(options->prompt, /*add_special_tokens=*/true);
    eval::GenerateOptions generate;
    generate.max_new_tokens = options->max_new_tokens;
    if (tokenizer->eos_id())
      generate.eos_id = *tokenizer->eos_id();
    else if (!model->config().eos_token_ids.empty())
      generate.eos_id = model->config().eos_token_ids[0];
    std::fputs(options->prompt.c_str(), stdout);
    std::fflush(stdout);
    // Decode prompt and continuation together and print what is new: multi-token characters come
    // out whole, and a continuation's leading space survives (SentencePiece decoders drop the
    // space of a sequence's first token).
    std::vector<io::TokenId> produced = prompt_ids;
    std::string printed = tokenizer->decode(produced, true);
    eval::generate_greedy(
        *model, std::vector<int64_t>(prompt_ids.begin(), prompt_ids.end()), generate,
        [&](int64_t id) {
          produced.push_back(static_cast<io::TokenId>(id));
          const std::string text = tokenizer->decode(produced, true);
          if (text.size() > printed.size() && text.compare(0, printed.size(), printed) == 0) {
            std::fputs(text.c_str() + printed.size(), stdout);
            std::fflush(stdout);
            printed = text;
          }
        });
    std::fputc('\n', stdout);
    return kExitOk;
  };
}

}  // namespace slim::cli
