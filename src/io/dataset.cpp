#include "slim/io/dataset.h"

#include <spdlog/spdlog.h>
#include <nlohmann/json.hpp>

#include <algorithm>
#include <filesystem>
#include <optional>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/utf8.h"

namespace slim::io {

namespace fs = std::filesystem;
using nlohmann::json;

namespace {

// Keys msModelSlim reads a sample's text from, in order of preference.
const char* const kTextKeys[] = {"inputs_pretokenized", "prompt", "text"};

std::string strip_bom(std::string text) {
  if (text.size() >= 3 && static_cast<unsigned char>(text[0]) == 0xEF &&
      static_cast<unsigned char>(text[1]) == 0xBB && static_cast<unsigned char>(text[2]) == 0xBF) {
    text.erase(0, 3);
  }
  return text;
}

bool is_blank(const std::string& text) {
  return std::all_of(text.begin(), text.end(), [](unsigned char c) {
    return c == ' ' || c == '\t' || c == '\r' || c == '\n';
  });
}

// The text of one sample object, or nullopt when it has none of the text keys.
std::optional<std::string> text_of_object(const json& object, const std::string& where) {
  for (const char* key : kTextKeys) {
    if (!object.contains(key)) continue;
    const json& value = object.at(key);
    SLIM_CHECK(value.is_string(), where, ": key '", key, "' must be a string, found ",
               value.type_name());
    return value.get<std::string>();
  }
  return std::nullopt;
}

void check_utf8(const std::string& text, const std::string& path, size_t base_line) {
  const size_t bad = find_invalid_utf8(text);
  if (bad == std::string::npos) return;
  SLIM_FAIL(path, ":", base_line + line_of_offset(text, bad) - 1,
            ": text is not valid UTF-8 (byte 0x", std::hex,
            static_cast<int>(static_cast<unsigned char>(text[bad])), std::dec,
            "); convert the file to UTF-8");
}

std::vector<std::string> load_json(const std::string& path, const std::string& contents) {
  json document;
  try {
    document = json::parse(contents);
  } catch (const json::parse_error& error) {
    SLIM_FAIL(path, ":", line_of_offset(contents, error.byte == 0 ? 0 : error.byte - 1),
              ": not valid JSON: ", error.what());
  }
  SLIM_CHECK(document.is_array(), path, ": expected a JSON array of strings, found JSON ",
             document.type_name());
  std::vector<std::string> samples;
  for (size_t i = 0; i < document.size(); ++i) {
    const json& element = document[i];
    const std::string where = str(path, ": element ", i);
    if (element.is_string()) {
      samples.push_back(element.get<std::string>());
    } else if (element.is_object()) {
      auto text = text_of_object(element, where);
      SLIM_CHECK(text.has_value(), where,
                 ": object has none of the keys inputs_pretokenized, prompt, text");
      samples.push_back(std::move(*text));
    } else {
      SLIM_FAIL(where, ": expected a string, found JSON ", element.type_name());
    }
  }
  return samples;
}

std::vector<std::string> load_jsonl(const std::string& path, const std::string& contents) {
  std::vector<std::string> samples;
  size_t line_number = 0;
  size_t start = 0;
  bool warned_raw_object = false;
  while (start <= contents.size()) {
    size_t end = contents.find('\n', start);
    if (end == std::string::npos) end = contents.size();
    std::string line = contents.substr(start, end - start);
    start = end + 1;
    ++line_number;
    if (!line.empty() && line.back() == '\r') line.pop_back();
    if (is_blank(line)) continue;
    const std::string where = str(path, ":", line_number);
    check_utf8(line, path, line_number);
    const size_t first = line.find_first_not_of(" \t");
    json parsed;
    try {
      parsed = json::parse(line);
    } catch (const json::parse_error& error) {
      // A line that starts like a JSON object but does not parse is a broken record, not text.
      SLIM_CHECK(line[first] != '{', where, ": malformed JSON object: ", error.what());
      samples.push_back(line);
      continue;
    }
    if (parsed.is_object()) {
      auto text = text_of_object(parsed, where);
      if (text) {
        samples.push_back(std::move(*text));
        continue;
      }
      if (!warned_raw_object) {
        spdlog::warn(
            "{}: object has none of the keys inputs_pretokenized, prompt, text; the raw "
            "line is used as text (as msModelSlim does)",
            where);
        warned_raw_object = true;
      }
    } else if (parsed.is_string()) {
      samples.push_back(parsed.get<std::string>());
      continue;
    }
    samples.push_back(line);
  }
  return samples;
}

std::vector<std::string> load_txt(const std::string& path, const std::string& contents,
                                  DatasetUse use) {
  check_utf8(contents, path, 1);
  if (use == DatasetUse::Evaluation) {
    if (is_blank(contents)) return {};
    return {contents};
  }
  std::vector<std::string> paragraphs;
  std::string current;
  size_t start = 0;
  while (start < contents.size()) {
    size_t end = contents.find('\n', start);
    if (end == std::string::npos) end = contents.size();
    std::string line = contents.substr(start, end - start);
    if (!line.empty() && line.back() == '\r') line.pop_back();
    start = end + 1;
    if (is_blank(line)) {
      if (!current.empty()) paragraphs.push_back(std::move(current));
      current.clear();
      continue;
    }
    current += current.empty() ? line : "\n" + line;
  }
  if (!current.empty()) paragraphs.push_back(std::move(current));
  return paragraphs;
}

}  // namespace

size_t line_of_offset(const std::string& text, size_t offset) {
  offset = std::min(offset, text.size());
  return 1 + static_cast<size_t>(std::count(text.begin(), text.begin() + offset, '\n'));
}

size_t find_invalid_utf8(const std::string& text) {
  const std::string_view view(text);
  for (size_t i = 0; i < view.size();) {
    const size_t length = valid_utf8_length(view.substr(i));
    if (length == 0) return i;
    i += length;
  }
  return std::string::npos;
}

std::vector<std::string> parse_text_dataset(const std::string& text, const std::string& path,
                                            DatasetUse use) {
  const std::string extension = fs::path(path).extension().string();
  const std::string contents = strip_bom(text);
  std::vector<std::string> samples;
  if (extension == ".json") {
    samples = load_json(path, contents);
  } else if (extension == ".jsonl") {
    samples = load_jsonl(path, contents);
  } else if (extension == ".txt") {
    samples = load_txt(path, contents, use);
  } else {
    SLIM_FAIL(path, ": unsupported dataset extension ", quote(extension),
              "; expected .json (array of strings), .jsonl (one object per line) or .txt");
  }
  SLIM_CHECK(!samples.empty(), path, ": dataset has no text samples");
  return samples;
}

std::vector<std::string> load_text_dataset(const std::string& path, DatasetUse use) {
  SLIM_CHECK(fs::exists(path), path, ": dataset file not found");
  return parse_text_dataset(read_file(path), path, use);
}

}  // namespace slim::io
