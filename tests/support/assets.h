// Real-data assets (tokenizers, llama.cpp's tokenizer test vectors, text) that
// scripts/fetch-assets.sh downloads into $SLIM_ASSETS_DIR, default
// ${SLIM_CACHE:-~/.cache/slim}/assets. CTest sets SLIM_ASSETS_DIR; run by hand, the tests fall back
// to the same default.
//
//   SLIM_ASSET_OR_SKIP(path, "tokenizer-qwen3/package/models/tokenizer.json");
//   // std::string path, or the test is skipped with a message saying how to fetch the assets.
//
// No GoogleTest dependency here (the benchmarks use it too); the macro expands at the use site.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <optional>
#include <string>

namespace slim::testing {

inline std::string assets_dir() {
  if (const char* dir = std::getenv("SLIM_ASSETS_DIR"); dir != nullptr && *dir != '\0') return dir;
  if (const char* cache = std::getenv("SLIM_CACHE"); cache != nullptr && *cache != '\0')
    return std::string(cache) + "/assets";
  const char* home = std::getenv("HOME");
  return std::string(home != nullptr ? home : "") + "/.cache/slim/assets";
}

// The absolute path of `relative` under the assets directory, or nullopt when it is missing.
inline std::optional<std::string> asset_path(const std::string& relative) {
  const std::filesystem::path path = std::filesystem::path(assets_dir()) / relative;
  std::error_code error;
  if (!std::filesystem::exists(path, error)) return std::nullopt;
  return path.string();
}

inline std::string missing_asset_message(const std::string& relative) {
  return "asset '" + relative + "' not found in " + assets_dir() +
         " (run scripts/fetch-assets.sh, or `make assets`)";
}

}  // namespace slim::testing

// Declares `const std::string var` holding the asset's path, or skips the current test.
#define SLIM_ASSET_OR_SKIP(var, relative)                              \
  const auto var##_or_missing = ::slim::testing::asset_path(relative); \
  if (!var##_or_missing) {                                             \
    GTEST_SKIP() << ::slim::testing::missing_asset_message(relative);  \
  }                                                                    \
  const std::string var = *var##_or_missing
