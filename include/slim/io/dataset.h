// Calibration and evaluation text, loaded the way msModelSlim loads it.
//
//   .json   an array of strings, or of objects with one of the .jsonl text keys
//   .jsonl  one JSON object per line; text under "inputs_pretokenized", else "prompt", else "text";
//           a line that is not JSON is taken as raw text; blank lines are skipped
//   .txt    evaluation: the whole file is one sample; calibration: each paragraph (text between
//           blank lines) is a sample
//
// Every malformed input is an error naming the file and the line.
#pragma once

#include <string>
#include <vector>

namespace slim::io {

enum class DatasetUse { Calibration, Evaluation };

std::vector<std::string> load_text_dataset(const std::string& path, DatasetUse use);
// The same for contents already in memory; `path` names them in messages and its extension says
// the layout.
std::vector<std::string> parse_text_dataset(const std::string& contents, const std::string& path,
                                            DatasetUse use);

// Byte offset -> 1-based line number in `text` (for error messages).
size_t line_of_offset(const std::string& text, size_t offset);
// Position of the first byte that breaks UTF-8 in `text`, or npos when valid.
size_t find_invalid_utf8(const std::string& text);

}  // namespace slim::io
