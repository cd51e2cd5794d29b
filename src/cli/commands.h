// Subcommands of the `slim` executable. Each lives in its own file, fills an options struct and
// calls one library entry point; main.cpp only dispatches.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>

namespace slim::cli {

// Registers a subcommand on `app`; the returned callback runs it and returns the exit code.
using CommandRunner = std::function<int()>;

CommandRunner add_inspect_command(CLI::App& app);
CommandRunner add_random_model_command(CLI::App& app);
CommandRunner add_tokenize_command(CLI::App& app);
CommandRunner add_eval_command(CLI::App& app);
// `eval logits`, a subcommand of `eval` (cmd_eval_logits.cpp); `eval` is its parent.
CommandRunner add_eval_logits_command(CLI::App& eval);
CommandRunner add_generate_command(CLI::App& app);
CommandRunner add_convert_command(CLI::App& app);
CommandRunner add_train_command(CLI::App& app);
CommandRunner add_quant_command(CLI::App& app);

// Exit codes shared by all commands.
constexpr int kExitOk = 0;
constexpr int kExitProblems = 1;  // the command ran and found problems (e.g. inspect)
constexpr int kExitError = 2;     // bad input or arguments

}  // namespace slim::cli
