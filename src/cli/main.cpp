// `slim`: one executable, one subcommand per job.
#include "slim/core/heap.h"

#include <spdlog/spdlog.h>
#include <CLI/CLI.hpp>

#include <cstdio>
#include <map>

#include "cli/commands.h"
#include "slim/core/error.h"
#include "slim/core/logging.h"
#include "slim/core/threads.h"

int main(int argc, char** argv) {
  slim::use_streaming_heap();  // slim/core/heap.h: why, and when slim quant changes it
  CLI::App app{"Slim: compress large language models (msModelSlim-compatible), natively.", "slim"};
  app.require_subcommand(1);
  app.set_version_flag("--version", "slim 0.1.0");
  std::string log_level;
  int threads = 0;
  app.add_option("--threads", threads,
                 "intra-op threads (default: $OMP_NUM_THREADS, else every core)");
  app.add_option("--log-level,--log_level", log_level,
                 "trace|debug|info|warn|error|critical|off (default: $SLIM_LOG_LEVEL or info)");

  std::map<CLI::App*, slim::cli::CommandRunner> runners;
  auto add = [&](auto factory) {
    const size_t before = app.get_subcommands({}).size();
    auto runner = factory(app);
    runners[app.get_subcommands({}).at(before)] = std::move(runner);
  };
  add(slim::cli::add_inspect_command);
  add(slim::cli::add_random_model_command);
  add(slim::cli::add_tokenize_command);
  add(slim::cli::add_eval_command);
  add(slim::cli::add_generate_command);
  add(slim::cli::add_convert_command);
  add(slim::cli::add_train_command);
  add(slim::cli::add_quant_command);

  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& error) {
    return app.exit(error) == 0 ? 0 : slim::cli::kExitError;
  }
  try {
    slim::logging::init(log_level);
    slim::configure_threads(threads);
    for (const auto& [command, runner] : runners) {
      if (command->parsed()) return runner();
    }
  } catch (const slim::Error& error) {
    // Plain stderr: the logger may be what failed to initialise.
    std::fprintf(stderr, "slim: error: %s\n", error.what());
    return slim::cli::kExitError;
  } catch (const std::exception& error) {
    std::fprintf(stderr, "slim: unexpected failure: %s\n", error.what());
    return slim::cli::kExitError;
  }
  return slim::cli::kExitError;
}
