// Small file-system helpers shared by every writer: whole-file reads and writes with errors that
// name the file, JSON files in the project's format, and an output directory that appears only
// once it is complete.
#pragma once

#include <string>

#include "slim/core/error.h"

namespace slim {

// Reads a whole file; throws slim::Error naming the file on failure.
std::string read_file(const std::string& path);
// Writes a whole file (creating or truncating it); throws slim::Error naming the file on failure.
void write_file(const std::string& path, const std::string& contents);

// The text of a JSON file as Slim writes config.json, generation_config.json,
// tokenizer_config.json and its own state files: two-space indent, keys in the value's order, and
// a final newline. `Json` is nlohmann::json or nlohmann::ordered_json (a template, so this header
// needs no JSON library). (The quantized savers write config.json as their reference tools do.)
template <typename Json>
std::string json_file_text(const Json& value) {
  return value.dump(2) + "\n";
}
// Reads and parses a JSON file; throws slim::Error naming the file when it cannot be read or is
// not valid JSON.
template <typename Json>
Json read_json_file(const std::string& path) {
  const std::string text = read_file(path);
  try {
    return Json::parse(text);
  } catch (const typename Json::exception& error) {
    SLIM_FAIL(path, ": not valid JSON: ", error.what());
  }
}
// Writes json_file_text(value) to `path`; throws slim::Error naming the file on failure.
template <typename Json>
void write_json_file(const std::string& path, const Json& value) {
  write_file(path, json_file_text(value));
}

// Output goes into a temporary directory beside `target` ("<target>.tmp-<pid>-<n>"), which
// commit() renames into place after everything is written. Destroying an uncommitted directory
// removes it, so a failed run leaves no half-written output that looks complete.
//
// An existing `target` that is a non-empty directory is refused unless `overwrite`; with
// `overwrite` it is replaced at commit().
class AtomicOutputDir {
 public:
  AtomicOutputDir(std::string target, bool overwrite);
  ~AtomicOutputDir();
  AtomicOutputDir(const AtomicOutputDir&) = delete;
  AtomicOutputDir& operator=(const AtomicOutputDir&) = delete;

  // Where to write now.
  const std::string& path() const { return temp_; }
  const std::string& target() const { return target_; }
  void commit();

 private:
  std::string target_;
  std::string temp_;
  bool overwrite_ = false;
  bool committed_ = false;
};

}  // namespace slim
