#include "slim/model/inspect.h"

#include <algorithm>
#include <cctype>
#include <cinttypes>
#include <filesystem>
#include <set>

#include <ATen/ATen.h>

#include "slim/core/error.h"
#include "slim/core/text.h"
#include "slim/io/safetensors.h"
#include "slim/model/tensor_layout.h"
#include "slim/model/weight_source.h"
#include "slim/quant/scheme.h"

namespace slim::model {

namespace fs = std::filesystem;

namespace {

std::string human_bytes(uint64_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB", "TiB"};
  double value = static_cast<double>(bytes);
  int unit = 0;
  while (value >= 1024 && unit < 4)
    value /= 1024, ++unit;
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f %s" : "%.2f %s", value, units[unit]);
  return buffer;
}

std::string human_count(int64_t count) {
  const char* units[] = {"", "K", "M", "B", "T"};
  double value = static_cast<double>(count);
  int unit = 0;
  while (value >= 1000 && unit < 4)
    value /= 1000, ++unit;
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, unit == 0 ? "%.0f%s" : "%.2f%s", value, units[unit]);
  return buffer;
}

std::vector<TensorGroup> group_tensors(const io::SafetensorsCheckpoint& checkpoint) {
  std::vector<TensorGroup> groups;
  std::map<std::string, size_t> position;
  // Order groups by first appearance in a natural order (layer 2 before layer 10).
  std::vector<std::string> names = checkpoint.names();
  for (const auto& name : names) {
    const auto& info = checkpoint.info(name);
    const std::string pattern = layer_pattern(name);
    const std::string dtype = io::dtype_name(info.dtype);
    const std::string shape = shape_text(info.shape);
    auto [it, inserted] = position.emplace(pattern, groups.size());
    if (inserted) {
      groups.push_back({pattern, 1, dtype, shape});
      continue;
    }
    TensorGroup& group = groups[it->second];
    ++group.count;
    if (group.dtype != dtype) group.dtype = "mixed";
    if (group.shape != shape) group.shape = "mixed";
  }
  return groups;
}

// The checks of a quantized output go through its weight source: a linear stored quantized
// satisfies its ".weight" (and ".bias"), and the tensors of its record are read.
void check_quantized(const WeightSource& source, InspectReport& report) {
  const io::ModelConfig& config = source.config();
  int64_t missing = 0;
  for (const auto& expected : expected_tensors(config)) {
    if (expected.role == TensorRole::Linear || expected.role == TensorRole::Head ||
        expected.role == TensorRole::Bias) {
      try {
        if (const auto record = source.deployed_linear(expected.module)) {
          if (expected.role != TensorRole::Bias) ++report.quantized[quant::tag_name(record->tag)];
          continue;
        }
      } catch (const Error& error) {
        report.problems.push_back(error.what());
        continue;
      }
    }
    const auto shape = source.float_shape(expected.name);
    if (!shape) {
      if (++missing <= 20) {
        report.problems.push_back(str("missing tensor ", expected.name, " (expected shape ",
                                      shape_text(expected.shape), ")"));
      }
    } else if (*shape != expected.shape) {
      report.problems.push_back(str("tensor ", expected.name, ": shape ", shape_text(*shape),
                                    " disagrees with config.json, which implies ",
                                    shape_text(expected.shape)));
    } else if (expected.role == TensorRole::Linear || expected.role == TensorRole::Head) {
      ++report.quantized["FLOAT"];
    }
  }
  if (missing > 20) {
    report.problems.push_back(str("... and ", missing - 20, " more missing tensors"));
  }
}

void check_against_config(const io::ModelConfig& config,
                          const io::SafetensorsCheckpoint& checkpoint, InspectReport& report) {
  std::set<std::string> used;
  int64_t missing = 0;
  for (const auto& expected : expected_tensors(config)) {
    used.insert(expected.name);
    if (!checkpoint.contains(expected.name)) {
      if (++missing <= 20) {
        report.problems.push_back(str("missing tensor ", expected.name, " (expected shape ",
                                      shape_text(expected.shape), ")"));
      }
      continue;
    }
    const auto& info = checkpoint.info(expected.name);
    if (info.shape != expected.shape) {
      report.problems.push_back(str("tensor ", expected.name, ": shape ", shape_text(info.shape),
                                    " disagrees with config.json, which implies ",
                                    shape_text(expected.shape)));
    }
  }
  if (missing > 20) {
    report.problems.push_back(str("... and ", missing - 20, " more missing tensors"));
  }
  std::vector<std::string> unused;
  for (const auto& name : checkpoint.names()) {
    if (used.count(name) == 0) unused.push_back(name);
  }
  if (!unused.empty()) {
    std::string list;
    for (size_t i = 0; i < std::min<size_t>(unused.size(), 5); ++i)
      list += " " + unused[i];
    report.notes.push_back(str(unused.size(), " tensor(s) not read by ", config.architecture, ":",
                               list, unused.size() > 5 ? " ..." : ""));
  }
}

std::vector<TensorDetail> detail_tensors(const io::SafetensorsCheckpoint& checkpoint) {
  std::vector<TensorDetail> details;
  for (const auto& name : checkpoint.names()) {
    const auto& info = checkpoint.info(name);
    TensorDetail detail{name, io::dtype_name(info.dtype), info.shape,
                        fs::path(checkpoint.file_of(name).path()).filename().string(), 0.0};
    if (io::dtype_scalar_type(info.dtype)) {
      detail.sum = checkpoint.tensor(name).to(at::kDouble).sum().item<double>();
    } else {
      detail.sum = checkpoint.raw_bytes(name).to(at::kDouble).sum().item<double>();
    }
    details.push_back(std::move(detail));
  }
  return details;
}

}  // namespace

std::string layer_pattern(const std::string& tensor_name) {
  std::string result = tensor_name;
  for (const char* marker : {".layers.", ".experts."}) {
    const std::string kMarker = marker;
    size_t at = result.find(kMarker);
    while (at != std::string::npos) {
      const size_t digits = at + kMarker.size();
      size_t end = digits;
      while (end < result.size() && std::isdigit(static_cast<unsigned char>(result[end])))
        ++end;
      if (end > digits && end < result.size() && result[end] == '.') {
        result.replace(digits, end - digits, "*");
      }
      at = result.find(kMarker, digits);
    }
  }
  return result;
}

InspectReport inspect_model(const std::string& model_path, bool tensor_details) {
  SLIM_CHECK(fs::exists(model_path), model_path, ": no such file or directory");
  const bool is_directory = fs::is_directory(model_path);
  InspectReport report;
  report.model_path = model_path;
  report.format = "huggingface";
  // Saved quantized outputs and GGUF files are checked through their weight source.
  std::unique_ptr<WeightSource> source;
  const bool gguf = !is_directory && fs::path(model_path).extension() == ".gguf";
  if (is_directory || gguf) {
    try {
      source = open_weight_source(model_path);
      report.format = source->format();
    } catch (const Error& error) {
      if (gguf) throw;
      // A Hugging Face directory with a broken config.json: reported below.
    }
  }
  if (gguf) {
    report.config = source->config();
    check_quantized(*source, report);
    for (const auto& expected : expected_tensors(*report.config)) {
      const auto shape = source->float_shape(expected.name);
      if (!shape) continue;
      ++report.tensor_count;
      int64_t numel = 1;
      for (int64_t d : *shape)
        numel *= d;
      report.parameter_count += numel;
      report.groups.push_back({layer_pattern(expected.name), 1, "dequantized", shape_text(*shape)});
    }
    report.checkpoint_files.push_back(fs::path(model_path).filename().string());
    return report;
  }
  if (is_directory) {
    try {
      report.config = io::load_model_config(model_path);
    } catch (const Error& error) {
      report.problems.push_back(error.what());
    }
  } else {
    report.notes.push_back("a single checkpoint file: config.json not consulted");
  }
  const auto checkpoint = io::SafetensorsCheckpoint::open(model_path);
  if (!checkpoint.index_path().empty()) {
    report.index_file = fs::path(checkpoint.index_path()).filename().string();
  }
  for (const auto& file : checkpoint.files()) {
    report.checkpoint_files.push_back(fs::path(file->path()).filename().string());
  }
  for (const auto& name : checkpoint.names()) {
    const auto& info = checkpoint.info(name);
    ++report.tensor_count;
    report.parameter_count += info.numel();
    report.total_bytes += info.nbytes();
    auto& total = report.dtypes[io::dtype_name(info.dtype)];
    ++total.tensors;
    total.bytes += info.nbytes();
  }
  report.groups = group_tensors(checkpoint);
  if (source && source->format() != "huggingface") {
    check_quantized(*source, report);
  } else if (report.config) {
    check_against_config(*report.config, checkpoint, report);
  }
  if (tensor_details) report.details = detail_tensors(checkpoint);
  if (!is_directory) return report;

  std::set<std::string> checkpoint_names(report.checkpoint_files.begin(),
                                         report.checkpoint_files.end());
  for (const auto& entry : fs::directory_iterator(model_path)) {
    const std::string name = entry.path().filename().string();
    if (entry.is_regular_file() && checkpoint_names.count(name) == 0 && name != report.index_file) {
      report.other_files.push_back(name);
    }
  }
  std::sort(report.other_files.begin(), report.other_files.end());
  return report;
}

nlohmann::ordered_json InspectReport::to_json() const {
  nlohmann::ordered_json out;
  out["model_path"] = model_path;
  out["format"] = format;
  if (!quantized.empty()) out["linears"] = quantized;
  if (config) {
    out["architecture"] = config->architecture;
    out["config"] = {{"num_hidden_layers", config->num_hidden_layers},
                     {"hidden_size", config->hidden_size},
                     {"intermediate_size", config->intermediate_size},
                     {"num_attention_heads", config->num_attention_heads},
                     {"num_key_value_heads", config->num_key_value_heads},
                     {"head_dim", config->head_dim},
                     {"vocab_size", config->vocab_size},
                     {"tie_word_embeddings", config->tie_word_embeddings},
                     {"dtype", config->dtype},
                     {"rope_scaling", config->rope_scaling.type}};
  } else {
    out["architecture"] = nullptr;
  }
  out["checkpoint_files"] = checkpoint_files;
  out["index_file"] =
      index_file.empty() ? nlohmann::ordered_json() : nlohmann::ordered_json(index_file);
  out["tensor_count"] = tensor_count;
  out["parameter_count"] = parameter_count;
  out["total_bytes"] = total_bytes;
  for (const auto& [dtype, total] : dtypes) {
    out["dtypes"][dtype] = {{"tensors", total.tensors}, {"bytes", total.bytes}};
  }
  out["tensors"] = nlohmann::ordered_json::array();
  for (const auto& group : groups) {
    out["tensors"].push_back({{"pattern", group.pattern},
                              {"count", group.count},
                              {"dtype", group.dtype},
                              {"shape", group.shape}});
  }
  if (!details.empty()) {
    out["tensor_list"] = nlohmann::ordered_json::array();
    for (const auto& detail : details) {
      out["tensor_list"].push_back({{"name", detail.name},
                                    {"dtype", detail.dtype},
                                    {"shape", detail.shape},
                                    {"file", detail.file},
                                    {"sum", detail.sum}});
    }
  }
  out["other_files"] = other_files;
  out["problems"] = problems;
  out["notes"] = notes;
  return out;
}

std::string InspectReport::to_text() const {
  std::string text = str("model:        ", model_path, "\n");
  if (config) {
    const auto& c = *config;
    text += str("architecture: ", c.architecture, " (", c.num_hidden_layers, " layers, hidden ",
                c.hidden_size, ", intermediate ", c.intermediate_size, ", heads ",
                c.num_attention_heads, " / kv ", c.num_key_value_heads, ", head_dim ", c.head_dim,
                ", vocab ", c.vocab_size, c.tie_word_embeddings ? ", tied embeddings" : "",
                c.dtype.empty() ? "" : ", " + c.dtype, ")\n");
    if (c.rope_scaling.type != "default") {
      text += str("rope scaling: ", c.rope_scaling.type, " (factor ", c.rope_scaling.factor, ")\n");
    }
    if (c.moe) {
      text += str("experts:      ", c.moe->num_experts, " routed, ", c.moe->top_k, " per token",
                  c.moe->shared_expert_intermediate_size > 0 ? ", a shared expert" : "",
                  ", expert intermediate ", c.moe->expert_intermediate_size,
                  c.moe->norm_top_k ? ", top-k renormalised" : "", "\n");
    }
  } else if (fs::is_directory(model_path)) {
    text += "architecture: unknown (config.json unusable, see problems)\n";
  }
  text += str("format:       ", format, "\n");
  if (!quantized.empty()) {
    text += "linears:     ";
    for (const auto& [tag, count] : quantized)
      text += str(" ", tag, " ", count, ";");
    text += "\n";
  }
  text +=
      str("checkpoint:   ", checkpoint_files.size(), " file(s)",
          index_file.empty() ? "" : " indexed by " + index_file, ", ", tensor_count, " tensors\n");
  text += str("parameters:   ", parameter_count, " (", human_count(parameter_count), ")\n");
  text += str("size:         ", total_bytes, " bytes (", human_bytes(total_bytes), ")\n");
  text += "dtypes:      ";
  for (const auto& [dtype, total] : dtypes) {
    text += str(" ", dtype, " ", total.tensors, " tensors ", human_bytes(total.bytes), ";");
  }
  text += "\n";
  if (!other_files.empty()) {
    text += "other files: ";
    for (const auto& file : other_files)
      text += " " + file;
    text += "\n";
  }
  size_t width = 0;
  for (const auto& group : groups)
    width = std::max(width, group.pattern.size());
  text += "tensors:\n";
  for (const auto& group : groups) {
    char line[512];
    std::snprintf(line, sizeof line, "  %-*s  x%-4" PRId64 " %-8s %s\n", static_cast<int>(width),
                  group.pattern.c_str(), group.count, group.dtype.c_str(), group.shape.c_str());
    text += line;
  }
  if (!details.empty()) {
    text += "tensor list (name, dtype, shape, sum, file):\n";
    for (const auto& detail : details) {
      text += str("  ", detail.name, "  ", detail.dtype, "  ", shape_text(detail.shape), "  ",
                  detail.sum, "  ", detail.file, "\n");
    }
  }
  for (const auto& note : notes)
    text += "note: " + note + "\n";
  if (problems.empty()) {
    text += "problems:     none\n";
  } else {
    text += str("problems:     ", problems.size(), "\n");
    for (const auto& problem : problems)
      text += "  - " + problem + "\n";
  }
  return text;
}

}  // namespace slim::model
