// model::open_weight_source: detects what a path holds and opens the matching weight source.
#include <ATen/ATen.h>

#include <algorithm>
#include <filesystem>
#include <fstream>

#include <nlohmann/json.hpp>

#include "export/weight_sources.h"
#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/text.h"
#include "slim/export/ascendv1.h"

namespace slim::exporter::detail {

std::string module_of(const std::string& tensor) {
  const size_t dot = tensor.rfind('.');
  return dot == std::string::npos ? "" : tensor.substr(0, dot);
}

bool is_float_dtype(io::Dtype dtype) {
  const auto type = io::dtype_scalar_type(dtype);
  return type.has_value() && at::isFloatingType(*type);
}

std::optional<int64_t> layer_of_tensor(const std::string& name) {
  size_t start = 0;
  while (start <= name.size()) {
    const size_t end = std::min(name.find('.', start), name.size());
    const std::string part = name.substr(start, end - start);
    if (!part.empty() && part.size() <= 9 &&
        part.find_first_not_of("0123456789") == std::string::npos) {
      return std::stoll(part);
    }
    start = end + 1;
  }
  return std::nullopt;
}

std::optional<std::vector<int64_t>> QuantizedDirectorySource::float_shape(
    const std::string& name) const {
  if (!float_names_.count(name)) return std::nullopt;
  const io::TensorInfo& info = checkpoint().info(name);
  if (!is_float_dtype(info.dtype)) return std::nullopt;
  return info.shape;
}

at::Tensor QuantizedDirectorySource::float_tensor(const std::string& name) const {
  if (!float_names_.count(name)) {
    const auto it = quantized_.find(module_of(name));
    SLIM_CHECK(it == quantized_.end(), describe(), ": tensor ", quote(name),
               " belongs to the quantized linear ", quote(it->first),
               it->second.empty() ? "" : " (" + it->second + ")",
               ", which runs from its deployed record, not as a float tensor");
    SLIM_FAIL(describe(), ": no float tensor ", quote(name));
  }
  const io::TensorInfo& info = checkpoint().info(name);
  SLIM_CHECK(is_float_dtype(info.dtype), describe(), ": tensor ", quote(name), " is ",
             io::dtype_name(info.dtype), ", not floating point");
  return checkpoint().tensor(name);
}

void QuantizedDirectorySource::release(const std::vector<std::string>& names) const {
  for (const auto& name : names) {
    if (checkpoint().contains(name)) checkpoint().release(name);
    for (const std::string& module : {name, module_of(name)}) {
      const auto it = module_tensors_.find(module);
      if (it == module_tensors_.end()) continue;
      for (const auto& tensor : it->second)
        checkpoint().release(tensor);
    }
  }
}

}  // namespace slim::exporter::detail

namespace slim::model {
namespace {

namespace fs = std::filesystem;

bool has_gguf_magic(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  char magic[4] = {};
  return in.read(magic, 4) && std::string(magic, 4) == "GGUF";
}

// quant_model_description*.json or quant_model_weight*.safetensors (Ascend V1, or msModelSlim's
// older variants), so that a directory missing one of the pair is reported as Ascend V1's.
bool looks_like_ascendv1(const std::string& directory) {
  for (const auto& entry : fs::directory_iterator(directory)) {
    const std::string name = entry.path().filename().string();
    if (!entry.is_regular_file()) continue;
    if (starts_with(name, "quant_model_description") && ends_with(name, ".json")) return true;
    if (starts_with(name, "quant_model_weight") &&
        (ends_with(name, ".safetensors") || ends_with(name, ".safetensors.index.json"))) {
      return true;
    }
  }
  return false;
}

// quantization_config.quant_method of config.json ("" when there is none).
std::string quant_method(const std::string& config_path) {
  auto config = read_json_file<nlohmann::json>(config_path);
  if (!config.is_object() || !config.contains("quantization_config")) return "";
  const nlohmann::json& qc = config["quantization_config"];
  SLIM_CHECK(qc.is_object(), config_path, ": quantization_config must be an object");
  const auto method = qc.find("quant_method");
  return method != qc.end() && method->is_string() ? method->get<std::string>() : "(unnamed)";
}

}  // namespace

std::unique_ptr<WeightSource> open_weight_source(const std::string& path) {
  SLIM_CHECK(!path.empty(), "no model path given");
  SLIM_CHECK(fs::exists(path), path, ": no such file or directory");
  if (!fs::is_directory(path)) {
    if (has_gguf_magic(path)) return exporter::detail::open_gguf_weight_source(path);
    SLIM_CHECK(ends_with(path, ".safetensors"), path,
               ": expected a model directory, a .safetensors file (with config.json beside it) "
               "or a .gguf file");
    return open_hf_weight_source(path);
  }
  if (looks_like_ascendv1(path)) return exporter::detail::open_ascendv1_weight_source(path);
  const std::string config = (fs::path(path) / "config.json").string();
  SLIM_CHECK(fs::exists(config), path,
             ": neither config.json (a Hugging Face or compressed-tensors "
             "checkpoint) nor ",
             exporter::kAscendV1Description, " (an Ascend V1 directory)");
  const std::string method = quant_method(config);
  if (method == "compressed-tensors") {
    return exporter::detail::open_compressed_tensors_weight_source(path);
  }
  SLIM_CHECK(method.empty(), config, ": quantization_config.quant_method is ", quote(method),
             "; Slim runs plain Hugging Face, compressed-tensors, Ascend V1 and GGUF checkpoints");
  return open_hf_weight_source(path);
}

}  // namespace slim::model
