// slim inspect --model_path DIR [--json]
#include <cstdio>

#include "cli/commands.h"
#include "slim/model/inspect.h"

namespace slim::cli {

namespace {
struct InspectOptions {
  std::string model_path;
  bool json = false;
  bool tensors = false;
};
}  // namespace

CommandRunner add_inspect_command(CLI::App& app) {
  auto options = std::make_shared<InspectOptions>();
  CLI::App* command = app.add_subcommand(
      "inspect", "Describe a Hugging Face model directory and report problems, without loading it");
  command
      ->add_option("--model_path,--model-path", options->model_path,
                   "model directory, or one .safetensors / .safetensors.index.json file")
      ->required();
  command->add_flag("--json", options->json, "print the report as JSON");
  command->add_flag("--tensors", options->tensors,
                    "list every tensor with its fp64 checksum (reads all weights)");
  command->footer("Exit status: 0 no problems, 1 problems found, 2 unreadable input.");
  return [options] {
    const model::InspectReport report = model::inspect_model(options->model_path, options->tensors);
    const std::string text = options->json ? report.to_json().dump(2) + "\n" : report.to_text();
    std::fputs(text.c_str(), stdout);
    return report.problems.empty() ? kExitOk : kExitProblems;
  };
}

}  // namespace slim::cli
