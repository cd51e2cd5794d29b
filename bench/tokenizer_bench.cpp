// Byte-level BPE encode throughput (bytes of input text per second) of real tokenizer.json files
// on State of the Union text. Assets: scripts/fetch-assets.sh; without them the benchmarks report
// an error saying so.
//
//   build/slim_bench --benchmark_filter=tokenizer_
//
// tokenizer_encode_lines (one call per sentence) and tokenizer_encode_document (all of it in one
// call) run on one thread; tokenizer_encode_batch uses the intra-op thread pool as encode_batch
// does, with the benchmark's argument as its thread count.
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <vector>

#include "slim/io/tokenizer/tokenizer.h"
#include "support/assets.h"

namespace {

constexpr size_t kTextBytes = 1500000;  // ~1.5 MB: a few hundred ms per iteration

std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream content;
  content << in.rdbuf();
  return content.str();
}

// Lines of text totalling ~kTextBytes: the addresses split after sentence ends, from every third
// file (1790 to 2021). Empty when the assets are missing.
const std::vector<std::string>& sotu_lines() {
  static const std::vector<std::string> lines = [] {
    std::vector<std::string> out;
    const auto dir = slim::testing::asset_path("sotu/package/data");
    if (!dir) return out;
    std::vector<std::string> files;
    for (const auto& entry : std::filesystem::directory_iterator(*dir))
      if (entry.path().extension() == ".txt") files.push_back(entry.path().string());
    std::sort(files.begin(), files.end());
    size_t size = 0;
    for (size_t f = 0; f < files.size() && size < kTextBytes; f += 3) {
      const std::string text = read_file(files[f]);
      size_t start = 0;
      for (size_t i = 0; i <= text.size() && size < kTextBytes; ++i) {
        const bool end = i == text.size() || text[i] == '\n' ||
                         (text[i] == ' ' && i > 0 &&
                          (text[i - 1] == '.' || text[i - 1] == '?' || text[i - 1] == '!'));
        if (!end) continue;
        if (i > start) {
          out.push_back(text.substr(start, i - start));
          size += out.back().size();
        }
        start = i + 1;
      }
    }
    return out;
  }();
  return lines;
}

size_t total_bytes(const std::vector<std::string>& lines) {
  size_t bytes = 0;
  for (const auto& line : lines)
    bytes += line.size();
  return bytes;
}

// Loaded once per path (loading is not what these measure). Null when the asset is missing.
const slim::io::Tokenizer* tokenizer(const std::string& relative) {
  static std::map<std::string, std::unique_ptr<slim::io::Tokenizer>> cache;
  auto it = cache.find(relative);
  if (it == cache.end()) {
    const auto path = slim::testing::asset_path(relative);
    it = cache.emplace(relative, path ? slim::io::load_tokenizer(*path) : nullptr).first;
  }
  return it->second.get();
}

bool ready(benchmark::State& state, const slim::io::Tokenizer* tok) {
  if (tok == nullptr || sotu_lines().empty()) {
    state.SkipWithError("assets missing: run scripts/fetch-assets.sh (or `make assets`)");
    return false;
  }
  return true;
}

// One line at a time, one thread: the tokenizer's own speed.
void tokenizer_encode_lines(benchmark::State& state, const char* relative) {
  const auto* tok = tokenizer(relative);
  if (!ready(state, tok)) return;
  at::set_num_threads(1);
  const auto& lines = sotu_lines();
  size_t tokens = 0;
  for (auto _ : state) {
    tokens = 0;
    for (const auto& line : lines) {
      const auto ids = tok->encode(line, /*add_special_tokens=*/false);
      tokens += ids.size();
      benchmark::DoNotOptimize(ids.data());
    }
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total_bytes(lines)));
  state.counters["tokens"] = static_cast<double>(tokens);
  state.counters["bytes_per_token"] = static_cast<double>(total_bytes(lines)) / tokens;
}

// All the text as one document (newline-joined lines), one thread.
void tokenizer_encode_document(benchmark::State& state, const char* relative) {
  const auto* tok = tokenizer(relative);
  if (!ready(state, tok)) return;
  at::set_num_threads(1);
  std::string document;
  for (const auto& line : sotu_lines())
    document += line + "\n";
  for (auto _ : state) {
    const auto ids = tok->encode(document, /*add_special_tokens=*/false);
    benchmark::DoNotOptimize(ids.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * document.size()));
}

// encode_batch over the lines with state.range(0) intra-op threads.
void tokenizer_encode_batch(benchmark::State& state, const char* relative) {
  const auto* tok = tokenizer(relative);
  if (!ready(state, tok)) return;
  const int threads = static_cast<int>(state.range(0));
  at::set_num_threads(threads);
  const auto& lines = sotu_lines();
  for (auto _ : state) {
    const auto batch = tok->encode_batch(lines, /*add_special_tokens=*/false);
    benchmark::DoNotOptimize(batch.data());
  }
  state.SetBytesProcessed(static_cast<int64_t>(state.iterations() * total_bytes(lines)));
  at::set_num_threads(1);
}

constexpr const char* kQwen3 = "tokenizer-qwen3/package/models/tokenizer.json";
constexpr const char* kLlama3 = "tokenizer-llama3/package/models/tokenizer.json";

BENCHMARK_CAPTURE(tokenizer_encode_lines, Qwen3, kQwen3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(tokenizer_encode_lines, Llama3, kLlama3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(tokenizer_encode_document, Qwen3, kQwen3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(tokenizer_encode_document, Llama3, kLlama3)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(tokenizer_encode_batch, Qwen3, kQwen3)
    ->MeasureProcessCPUTime()
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();
BENCHMARK_CAPTURE(tokenizer_encode_batch, Llama3, kLlama3)
    ->MeasureProcessCPUTime()
    ->Arg(1)
    ->Arg(2)
    ->Unit(benchmark::kMillisecond)
    ->UseRealTime();

}  // namespace
