#include "slim/io/tokenizer/tokenizer_config.h"

#include <nlohmann/json.hpp>

#include <filesystem>

#include "slim/core/error.h"
#include "slim/core/files.h"

namespace slim::io {

namespace {

std::optional<std::string> token_field(const nlohmann::json& object, const char* key,
                                       const std::string& file) {
  if (!object.contains(key) || object.at(key).is_null()) return std::nullopt;
  const auto& value = object.at(key);
  if (value.is_string()) return value.get<std::string>();
  SLIM_CHECK(value.is_object() && value.contains("content") && value.at("content").is_string(),
             file, ": key '", key, "' must be a string or an object with \"content\", found ",
             value.dump());
  return value.at("content").get<std::string>();
}

std::optional<bool> bool_field(const nlohmann::json& object, const char* key,
                               const std::string& file) {
  if (!object.contains(key) || object.at(key).is_null()) return std::nullopt;
  SLIM_CHECK(object.at(key).is_boolean(), file, ": key '", key, "' must be true or false, found ",
             object.at(key).dump());
  return object.at(key).get<bool>();
}

}  // namespace

TokenizerConfig load_tokenizer_config(const std::string& directory) {
  TokenizerConfig config;
  const std::string file = (std::filesystem::path(directory) / "tokenizer_config.json").string();
  if (!std::filesystem::exists(file)) return config;
  auto object = read_json_file<nlohmann::json>(file);
  SLIM_CHECK(object.is_object(), file, ": expected a JSON object");
  config.bos_token = token_field(object, "bos_token", file);
  config.eos_token = token_field(object, "eos_token", file);
  config.pad_token = token_field(object, "pad_token", file);
  config.unk_token = token_field(object, "unk_token", file);
  config.add_bos_token = bool_field(object, "add_bos_token", file);
  config.add_eos_token = bool_field(object, "add_eos_token", file);
  if (object.contains("tokenizer_class") && object.at("tokenizer_class").is_string()) {
    config.tokenizer_class = object.at("tokenizer_class").get<std::string>();
  }
  return config;
}

}  // namespace slim::io
