// slim eval logits --model_path DIR (--ids "1 2 3" [--ids ...] | --ids_file F) --output F
//
// Runs the model on a fixed batch of token ids and writes the logits to a .safetensors file, so
// other tools (tests/python/transformers_conformance.py) can compare them with theirs.
#include <spdlog/spdlog.h>

#include <ATen/ATen.h>

#include <cerrno>
#include <cstdlib>
#include <filesystem>
#include <sstream>

#include "cli/commands.h"
#include "cli/runtime_options.h"
#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/io/safetensors.h"
#include "slim/model/causal_lm.h"

namespace slim::cli {

namespace {

struct LogitsCli {
  std::string model_path;
  std::vector<std::string> ids;
  std::string ids_file;
  std::string output;
  RuntimeFlags runtime;
};

// "1 2 3" or "1,2,3" -> {1, 2, 3}; `where` names the sequence in messages.
std::vector<int64_t> parse_sequence(const std::string& text, const std::string& where) {
  std::string spaced = text;
  for (char& c : spaced)
    if (c == ',' || c == '\t' || c == '\r') c = ' ';
  std::istringstream words(spaced);
  std::vector<int64_t> ids;
  std::string word;
  while (words >> word) {
    errno = 0;
    char* end = nullptr;
    const long long value = std::strtoll(word.c_str(), &end, 10);
    SLIM_CHECK(*end == '\0' && errno == 0, where, ": ", quote(word),
               " is not a token id (expected integers separated by spaces or commas)");
    ids.push_back(value);
  }
  SLIM_CHECK(!ids.empty(), where, ": no token ids");
  return ids;
}

std::vector<std::vector<int64_t>> read_sequences(const LogitsCli& options) {
  SLIM_CHECK(options.ids.empty() != options.ids_file.empty(),
             "give the token ids with --ids (once per sequence) or with --ids_file, not both");
  std::vector<std::vector<int64_t>> sequences;
  if (!options.ids_file.empty()) {
    std::istringstream lines(read_file(options.ids_file));
    std::string line;
    for (int64_t number = 1; std::getline(lines, line); ++number) {
      if (line.find_first_not_of(" \t\r,") == std::string::npos) continue;  // blank line
      sequences.push_back(parse_sequence(line, str(options.ids_file, ":", number)));
    }
    SLIM_CHECK(!sequences.empty(), options.ids_file, ": no token ids");
  } else {
    for (size_t i = 0; i < options.ids.size(); ++i)
      sequences.push_back(parse_sequence(options.ids[i], str("--ids #", i + 1)));
  }
  for (size_t i = 1; i < sequences.size(); ++i) {
    SLIM_CHECK(sequences[i].size() == sequences[0].size(), "sequence ", i + 1, " has ",
               sequences[i].size(), " token ids, sequence 1 has ", sequences[0].size(),
               " (a batch needs sequences of equal length; there is no padding)");
  }
  return sequences;
}

// "dir/name.safetensors" -> {"dir", "name"}; the directory must exist.
std::pair<std::string, std::string> split_output(const std::string& output) {
  namespace fs = std::filesystem;
  const fs::path path(output);
  SLIM_CHECK(path.extension() == ".safetensors" && !path.stem().empty(), "--output ", quote(output),
             ": expected a file name ending in .safetensors");
  const fs::path parent = path.has_parent_path() ? path.parent_path() : fs::path(".");
  SLIM_CHECK(fs::is_directory(parent), "--output ", quote(output), ": directory ",
             quote(parent.string()), " does not exist");
  SLIM_CHECK(!fs::is_directory(path), "--output ", quote(output), " is a directory");
  return {parent.string(), path.stem().string()};
}

int run_logits(const LogitsCli& options) {
  const auto sequences = read_sequences(options);
  const auto [directory, basename] = split_output(options.output);
  const int64_t batch = static_cast<int64_t>(sequences.size());
  const int64_t seq = static_cast<int64_t>(sequences[0].size());
  at::Tensor ids = at::empty({batch, seq}, at::kLong);
  for (int64_t b = 0; b < batch; ++b)
    std::copy(sequences[b].begin(), sequences[b].end(), ids[b].data_ptr<int64_t>());

  const auto runtime = options.runtime.resolve();
  const auto model = model::CausalLM::open(options.model_path, runtime);
  const at::Tensor logits = model->forward(ids).to(at::kCPU, at::kFloat).contiguous();

  io::SafetensorsWriterOptions writer_options;
  writer_options.basename = basename;
  writer_options.metadata = {{"format", "pt"},
                             {"model_path", options.model_path},
                             {"device", options.runtime.device},
                             {"compute_dtype", c10::toString(runtime.compute_dtype)}};
  io::SafetensorsWriter writer(directory, writer_options);
  writer.add("logits", logits);
  writer.add("input_ids", ids);
  writer.finish();
  spdlog::info("wrote logits [{}, {}, {}] to {}", batch, seq, logits.size(2), options.output);
  return kExitOk;
}

}  // namespace

CommandRunner add_eval_logits_command(CLI::App& eval) {
  auto options = std::make_shared<LogitsCli>();
  CLI::App* command = eval.add_subcommand(
      "logits", "Write the logits of a batch of token ids to a .safetensors file");
  command->add_option("--model_path,--model-path", options->model_path, "model directory")
      ->required();
  command
      ->add_option("--ids", options->ids,
                   "one sequence of token ids (\"1 2 3\" or 1,2,3); repeat for a batch")
      ->expected(1)
      ->allow_extra_args(false)  // `--ids 1 2 3` is an error, not three sequences
      ->multi_option_policy(CLI::MultiOptionPolicy::TakeAll);
  command->add_option("--ids_file,--ids-file", options->ids_file,
                      "file with one sequence of token ids per line");
  command
      ->add_option("--output", options->output,
                   "FILE.safetensors: 'logits' F32 [batch, seq, vocab], 'input_ids' I64")
      ->required();
  options->runtime.add_to(*command);
  return [options] { return run_logits(*options); };
}

}  // namespace slim::cli
