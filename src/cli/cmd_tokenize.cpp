// slim tokenize --model_path DIR (--text S | --file F) [--ids] [--lines] [--no_special_tokens]
//                [--decode]
#include <cstdio>
#include <sstream>

#include "cli/commands.h"
#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/io/tokenizer/tokenizer.h"

namespace slim::cli {

namespace {

struct TokenizeOptions {
  std::string model_path;
  std::string text;
  std::string file;
  bool ids_only = false;
  bool lines = false;
  bool no_special_tokens = false;
  bool decode = false;
  bool skip_special_tokens = false;
};

std::string join_ids(const std::vector<io::TokenId>& ids) {
  std::string out;
  for (size_t i = 0; i < ids.size(); ++i) {
    if (i) out += ' ';
    out += std::to_string(ids[i]);
  }
  return out;
}

std::vector<io::TokenId> parse_ids(const std::string& line, size_t line_number) {
  std::vector<io::TokenId> ids;
  std::istringstream stream(line);
  std::string word;
  while (stream >> word) {
    size_t used = 0;
    long long value = -1;
    try {
      value = std::stoll(word, &used);
    } catch (const std::exception&) {
    }
    SLIM_CHECK(used == word.size() && value >= 0 && value <= INT32_MAX, "line ", line_number, ": ",
               quote(word), " is not a token id");
    ids.push_back(static_cast<io::TokenId>(value));
  }
  return ids;
}

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string line = text.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    lines.push_back(std::move(line));
    start = end + 1;
  }
  return lines;
}

void print_tokens(const io::Tokenizer& tokenizer, const std::vector<io::TokenId>& ids) {
  for (io::TokenId id : ids) {
    std::printf("%d\t%s%s\n", id, tokenizer.id_to_token(id).c_str(),
                tokenizer.is_special(id) ? "\t(special)" : "");
  }
  std::printf("%zu tokens\n", ids.size());
}

int run(const TokenizeOptions& options) {
  SLIM_CHECK(options.text.empty() != options.file.empty(), "give exactly one of --text and --file");
  const auto tokenizer = io::load_tokenizer(options.model_path);
  const std::string input = options.file.empty() ? options.text : read_file(options.file);
  const bool add_special = !options.no_special_tokens;

  if (options.decode) {
    const auto lines = options.lines ? split_lines(input) : std::vector<std::string>{input};
    for (size_t i = 0; i < lines.size(); ++i) {
      const std::string text =
          tokenizer->decode(parse_ids(lines[i], i + 1), options.skip_special_tokens);
      std::fwrite(text.data(), 1, text.size(), stdout);
      if (options.lines) std::fputc('\n', stdout);
    }
    return kExitOk;
  }
  if (options.lines) {
    const auto all_ids = tokenizer->encode_batch(split_lines(input), add_special);
    for (const auto& ids : all_ids) {
      if (options.ids_only) {
        std::printf("%s\n", join_ids(ids).c_str());
      } else {
        print_tokens(*tokenizer, ids);
      }
    }
    return kExitOk;
  }
  const auto ids = tokenizer->encode(input, add_special);
  if (options.ids_only) {
    std::printf("%s\n", join_ids(ids).c_str());
  } else {
    print_tokens(*tokenizer, ids);
  }
  return kExitOk;
}

}  // namespace

CommandRunner add_tokenize_command(CLI::App& app) {
  auto options = std::make_shared<TokenizeOptions>();
  CLI::App* command = app.add_subcommand("tokenize", "Encode text to token ids (or decode ids)");
  command
      ->add_option("--model_path,--model-path", options->model_path,
                   "model directory, or a folder / file with tokenizer.json or tokenizer.model")
      ->required();
  command->add_option("--text", options->text, "text to encode");
  command->add_option("--file", options->file, "file whose content is encoded");
  command->add_flag("--ids", options->ids_only, "print only the ids, separated by spaces");
  command->add_flag("--lines", options->lines,
                    "encode each line separately; one output line of ids per input line");
  command->add_flag("--no_special_tokens,--no-special-tokens", options->no_special_tokens,
                    "do not add BOS/EOS (the post-processor's template)");
  command->add_flag("--decode", options->decode,
                    "the input holds ids separated by spaces; print the decoded text");
  command->add_flag("--skip_special_tokens", options->skip_special_tokens,
                    "with --decode: leave special tokens out");
  return [options] { return run(*options); };
}

}  // namespace slim::cli
