// slim quant: calibrated one-click quantization with msModelSlim's arguments (spec
// msmodelslim-v1.md §1.2-§1.4): a practice resolved from --model_type / --quant_type / --tag, or
// --config_path, run by the layer-wise runner (slim/pipeline/quantize.h).
#include <spdlog/spdlog.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <iostream>

#include "cli/commands.h"
#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/progress.h"
#include "slim/pipeline/practice.h"
#include "slim/pipeline/quantize.h"

namespace slim::cli {

namespace {

namespace fs = std::filesystem;

struct QuantCli {
  std::string model_path;
  std::string save_path;
  std::string model_type;
  std::string quant_type;
  std::string config_path;
  std::string device = "cpu";
  std::string trust_remote_code = "False";
  std::vector<std::string> tags;
  bool debug = false;
  bool yes = false;
  bool overwrite = false;
  bool dry_run = false;
  int64_t calib_samples = 0;
  std::string dataset;
  std::string numerics;
  std::string offload_activations = "auto";
  std::string offload_dir;
};

// msModelSlim asks for `y`; without a terminal (CI, pipes) Slim refuses instead of hanging.
void confirm(const std::string& question, bool yes) {
  if (yes) {
    spdlog::info("{} (confirmed by --yes)", question);
    return;
  }
  SLIM_CHECK(::isatty(STDIN_FILENO), question,
             ": confirmation needed and stdin is not a terminal; pass --yes to go on");
  std::fprintf(stderr, "%s\nContinue? [y/N] ", question.c_str());
  std::string answer;
  std::getline(std::cin, answer);
  SLIM_CHECK(answer == "y" || answer == "Y", "not confirmed; nothing was written");
}

pipeline::QuantConfig resolve_config(const QuantCli& options) {
  if (!options.config_path.empty()) {
    SLIM_CHECK(options.quant_type.empty(),
               "--config_path and --quant_type are mutually exclusive (the config says the type)");
    if (!options.tags.empty()) spdlog::warn("--tag is ignored with --config_path");
    if (fs::exists(options.config_path)) return pipeline::load_quant_config(options.config_path);
    if (auto bundled = pipeline::find_practice_by_id(options.config_path)) return *bundled;
    SLIM_FAIL("--config_path ", quote(options.config_path),
              ": no such file, nor the config_id of a bundled practice (slim quant "
              "--list_practices lists them)");
  }
  SLIM_CHECK(!options.model_type.empty(),
             "--model_type is required unless --config_path is given (e.g. Qwen3-8B)");
  SLIM_CHECK(options.model_type.size() <= 200, "--model_type: at most 200 characters");
  pipeline::PracticeRequest request;
  request.model_type = options.model_type;
  if (!options.quant_type.empty()) request.quant_type = options.quant_type;
  request.tags = options.tags;
  const pipeline::PracticeChoice choice = pipeline::resolve_practice(request);
  spdlog::info("practice {} (pedigree {}, from {})", choice.config.metadata.config_id,
               choice.pedigree, choice.config.origin);
  if (choice.needs_confirmation) {
    confirm("practice " + choice.config.metadata.config_id + ": " + choice.reason, options.yes);
  }
  return choice.config;
}

void print_plan(const std::vector<algo::LinearPlan>& plans) {
  std::printf("%-60s %-28s %s\n", "linear", "tag", "processors / scheme");
  for (const auto& plan : plans) {
    std::string processors;
    for (const auto& type : plan.processors)
      processors += (processors.empty() ? "" : ", ") + type;
    std::printf("%-60s %-28s %s%s%s\n", plan.module.c_str(),
                plan.form ? quant::tag_name(plan.form->tag) : "FLOAT",
                processors.empty() ? "-" : processors.c_str(), plan.form ? ": " : "",
                plan.form ? plan.form->to_string().c_str() : "");
  }
}

int list_practices() {
  std::printf("%-12s %-28s %-6s %-9s %s\n", "pedigree", "config_id", "score", "label", "root");
  for (const auto& entry : pipeline::list_practices()) {
    const auto& metadata = entry.config.metadata;
    std::printf("%-12s %-28s %-6g w%da%-6d %s\n", entry.pedigree.c_str(),
                metadata.config_id.c_str(), metadata.score, metadata.label.w_bit,
                metadata.label.a_bit, entry.root.c_str());
  }
  return kExitOk;
}

void write_debug_info(const std::string& save_path, const pipeline::QuantizeSummary& summary,
                      const std::vector<algo::LinearPlan>& plans) {
  const fs::path dir = fs::path(save_path) / "debug_info";
  fs::create_directories(dir);
  nlohmann::ordered_json info;
  info["runner"] = summary.runner;
  info["format"] = summary.format;
  info["numerics"] = quant::numerics_name(summary.numerics);
  info["samples"] = summary.samples;
  info["tokens"] = summary.tokens;
  info["activation_bytes"] = summary.activation_bytes;
  info["offloaded"] = summary.offloaded;
  info["phases_s"] = {{"load", summary.phases.load_s},
                      {"calibration", summary.phases.calibration_s},
                      {"parameters", summary.phases.parameters_s},
                      {"save", summary.phases.save_s}};
  info["warnings"] = summary.warnings;
  for (const auto& plan : plans) {
    info["linears"][plan.module] = {
        {"processors", plan.processors},
        {"form", plan.form ? plan.form->to_string() : std::string("FLOAT")}};
  }
  write_json_file((dir / "debug_info.json").string(), info);
}

int run_quant(const QuantCli& options) {
  SLIM_CHECK(options.trust_remote_code == "True" || options.trust_remote_code == "False",
             "--trust_remote_code: expected True or False, found ",
             quote(options.trust_remote_code));
  if (options.trust_remote_code == "True") {
    spdlog::info(
        "--trust_remote_code True: accepted; Slim never executes code from a model "
        "directory (its architectures are built in)");
  }
  SLIM_CHECK(fs::is_directory(options.model_path), "--model_path ", quote(options.model_path),
             ": not a readable directory");
  SLIM_CHECK(fs::exists(fs::path(options.model_path) / "config.json"), "--model_path ",
             quote(options.model_path), ": no config.json (a Hugging Face checkpoint directory)");
  pipeline::QuantConfig config = resolve_config(options);
  if (!options.numerics.empty()) {
    config.numerics = quant::numerics_name(quant::parse_numerics(options.numerics));
  }
  const auto plans = pipeline::plan_quantization(options.model_path, config);
  if (options.dry_run) {
    std::printf("%s", pipeline::dump_quant_config(config).c_str());
    print_plan(plans);
    return kExitOk;
  }
  pipeline::QuantizeOptions quantize;
  quantize.model_path = options.model_path;
  quantize.save_path = options.save_path;
  quantize.config = config;
  quantize.overwrite = options.overwrite;
  quantize.device = options.device;
  if (!options.dataset.empty()) quantize.dataset = options.dataset;
  quantize.calib_samples = options.calib_samples;
  quantize.offload_activations = options.offload_activations;
  quantize.offload_dir = options.offload_dir;
  const std::string model_type = options.model_type.empty() ? "custom" : options.model_type;
  quantize.extra_files.emplace_back(model_type + "_best_practice.yaml",
                                    pipeline::dump_quant_config(config));
  const auto summary = pipeline::quantize_model(quantize);
  if (options.debug) write_debug_info(options.save_path, summary, plans);
  std::printf("%s: %lld linears quantized, %lld left in float (%s, %s runner, %s numerics)\n",
              options.save_path.c_str(), static_cast<long long>(summary.quantized_linears),
              static_cast<long long>(summary.float_linears), summary.format.c_str(),
              summary.runner.c_str(), quant::numerics_name(summary.numerics));
  std::printf("  calibration: %lld samples, %lld tokens, %.1f MB of activations%s\n",
              static_cast<long long>(summary.samples), static_cast<long long>(summary.tokens),
              summary.activation_bytes / 1048576.0,
              summary.offloaded ? " (offloaded to disk)" : "");
  std::printf("  time: load %s, calibration forward %s, parameters %s, save %s, total %s\n",
              format_duration(summary.phases.load_s).c_str(),
              format_duration(summary.phases.calibration_s).c_str(),
              format_duration(summary.phases.parameters_s).c_str(),
              format_duration(summary.phases.save_s).c_str(),
              format_duration(summary.total_s).c_str());
  for (const auto& warning : summary.warnings)
    std::printf("  warning: %s\n", warning.c_str());
  return kExitOk;
}

}  // namespace

CommandRunner add_quant_command(CLI::App& app) {
  auto options = std::make_shared<QuantCli>();
  auto list = std::make_shared<bool>(false);
  CLI::App* command = app.add_subcommand(
      "quant", "Calibrated quantization of a Hugging Face checkpoint (msModelSlim's arguments)");
  command->add_option("--model_path,--model-path", options->model_path,
                      "the float Hugging Face checkpoint directory");
  command->add_option("--save_path,--save-path", options->save_path, "output directory");
  command->add_option("--model_type,--model-type", options->model_type,
                      "model name selecting the practice (e.g. Qwen3-8B; unknown: default)");
  command->add_option("--quant_type,--quant-type", options->quant_type,
                      "w8a8, w8a16, w4a16, w4a8 (a bundled practice; default w8a8)");
  command->add_option("--config_path,--config-path", options->config_path,
                      "a practice YAML (modelslim_v1 or modelslim_v0), or a bundled config_id");
  command->add_option("--device", options->device, "cpu, cuda or cuda:<index>")
      ->capture_default_str();
  command->add_option("--trust_remote_code,--trust-remote-code", options->trust_remote_code,
                      "True|False (accepted; Slim never runs code from a model directory)");
  command->add_option("--tag", options->tags, "scenario tags (e.g. MindIE vLLM-Ascend)")
      ->expected(0, -1);
  command->add_flag("--debug", options->debug, "write save_path/debug_info/debug_info.json");
  command->add_flag("--yes,-y", options->yes, "answer yes to confirmation prompts");
  command->add_flag("--overwrite", options->overwrite, "replace an existing --save_path");
  command->add_flag("--dry_run,--dry-run", options->dry_run,
                    "print the resolved config and each linear's plan, then stop");
  command->add_option("--calib_samples,--calib-samples", options->calib_samples,
                      "use the first N calibration samples (default: all)");
  command->add_option("--dataset", options->dataset,
                      "calibration texts (.jsonl/.json/.txt), replacing spec.dataset");
  command
      ->add_option("--offload_activations,--offload-activations", options->offload_activations,
                   "calibration states between layers on disk: auto (when over half the free "
                   "memory), yes, no")
      ->capture_default_str();
  command->add_option("--offload_dir,--offload-dir", options->offload_dir,
                      "scratch directory for offloaded activations (default: beside --save_path)");
  command->add_option("--numerics", options->numerics,
                      "precise (default) or msmodelslim (the reference's arithmetic, bit for bit)");
  command->add_flag("--list_practices,--list-practices", *list, "list the practices and stop");
  return [options, list] {
    if (*list) return list_practices();
    SLIM_CHECK(!options->model_path.empty(), "--model_path is required");
    if (!options->dry_run) SLIM_CHECK(!options->save_path.empty(), "--save_path is required");
    return run_quant(*options);
  };
}

}  // namespace slim::cli
