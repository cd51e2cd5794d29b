// llama.cpp's tools, built by scripts/build-llama-cpp.sh into
// ${SLIM_CACHE:-~/.cache/slim}/llama.cpp-build-<commit>/bin (or $SLIM_LLAMA_CPP_BIN).
#pragma once

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace slim::testing {

// The folder holding llama-perplexity and llama-tokenize, or nullopt when they are not built.
inline std::optional<std::string> llama_cpp_bin() {
  namespace fs = std::filesystem;
  auto has_tools = [](const fs::path& dir) {
    std::error_code error;
    return fs::exists(dir / "llama-perplexity", error) && fs::exists(dir / "llama-tokenize", error);
  };
  if (const char* dir = std::getenv("SLIM_LLAMA_CPP_BIN"); dir != nullptr && *dir != '\0') {
    return has_tools(dir) ? std::optional<std::string>(dir) : std::nullopt;
  }
  std::string cache;
  if (const char* value = std::getenv("SLIM_CACHE"); value != nullptr && *value != '\0') {
    cache = value;
  } else {
    const char* home = std::getenv("HOME");
    cache = std::string(home != nullptr ? home : "") + "/.cache/slim";
  }
  std::error_code error;
  if (!fs::is_directory(cache, error)) return std::nullopt;
  for (const auto& entry : fs::directory_iterator(cache, error)) {
    const std::string name = entry.path().filename().string();
    if (name.rfind("llama.cpp-build-", 0) == 0 && has_tools(entry.path() / "bin") &&
        fs::exists(entry.path() / ".complete", error)) {
      return (entry.path() / "bin").string();
    }
  }
  return std::nullopt;
}

}  // namespace slim::testing

#define SLIM_LLAMA_CPP_OR_SKIP(var)                                                             \
  const auto var##_or_missing = ::slim::testing::llama_cpp_bin();                               \
  if (!var##_or_missing) {                                                                      \
    GTEST_SKIP() << "llama.cpp tools not built (run scripts/build-llama-cpp.sh, or make test)"; \
  }                                                                                             \
  const std::string var = *var##_or_missing
