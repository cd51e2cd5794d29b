#include "export/quant_format_common.h"

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <sys/stat.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <cstring>
#include <filesystem>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/text.h"
#include "slim/io/model_config.h"
#include "slim/io/safetensors.h"

namespace slim::exporter::detail {

namespace fs = std::filesystem;

namespace {

float bits_float(uint32_t bits) {
  float value;
  std::memcpy(&value, &bits, sizeof value);
  return value;
}

}  // namespace

at::Tensor pack_int32(const at::Tensor& codes, int bits, int packed_dim) {
  SLIM_INTERNAL_ASSERT(codes.scalar_type() == at::kChar && codes.dim() == 2,
                       "pack_int32 wants int8 2-D");
  SLIM_INTERNAL_ASSERT(bits == 4 || bits == 8, "pack_int32: 4 or 8 bits");
  SLIM_INTERNAL_ASSERT(packed_dim == 0 || packed_dim == 1, "pack_int32: dim 0 or 1");
  const at::Tensor source = (packed_dim == 0 ? codes.t() : codes).contiguous();
  const int64_t rows = source.size(0);
  const int64_t cols = source.size(1);
  const int per_word = 32 / bits;
  const int64_t words = (cols + per_word - 1) / per_word;
  const uint32_t mask = (1u << bits) - 1;
  const int32_t offset = 1 << (bits - 1);
  at::Tensor out = at::empty({rows, words}, codes.options().dtype(at::kInt));
  const int8_t* in = source.data_ptr<int8_t>();
  int32_t* target = out.data_ptr<int32_t>();
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t w = 0; w < words; ++w) {
        uint32_t word = 0;
        for (int j = 0; j < per_word; ++j) {
          const int64_t c = w * per_word + j;
          if (c >= cols) break;
          const uint32_t value = static_cast<uint32_t>(in[r * cols + c] + offset) & mask;
          word |= value << (bits * j);
        }
        std::memcpy(&target[r * words + w], &word, sizeof word);
      }
    }
  });
  return packed_dim == 0 ? out.t().contiguous() : out;
}

at::Tensor unpack_int32(const at::Tensor& packed, int bits, int64_t unpacked_size, int packed_dim) {
  SLIM_INTERNAL_ASSERT(packed.scalar_type() == at::kInt && packed.dim() == 2,
                       "unpack_int32 wants int32 2-D");
  SLIM_INTERNAL_ASSERT(bits == 4 || bits == 8, "unpack_int32: 4 or 8 bits");
  const at::Tensor source = (packed_dim == 0 ? packed.t() : packed).contiguous();
  const int64_t rows = source.size(0);
  const int64_t words = source.size(1);
  const int per_word = 32 / bits;
  SLIM_INTERNAL_ASSERT(unpacked_size <= words * per_word && unpacked_size > (words - 1) * per_word,
                       "unpack_int32: size ", unpacked_size, " does not fit ", words, " words");
  const uint32_t mask = (1u << bits) - 1;
  const int32_t offset = 1 << (bits - 1);
  at::Tensor out = at::empty({rows, unpacked_size}, packed.options().dtype(at::kChar));
  const int32_t* in = source.data_ptr<int32_t>();
  int8_t* target = out.data_ptr<int8_t>();
  at::parallel_for(0, rows, 64, [&](int64_t begin, int64_t end) {
    for (int64_t r = begin; r < end; ++r) {
      for (int64_t c = 0; c < unpacked_size; ++c) {
        uint32_t word;
        std::memcpy(&word, &in[r * words + c / per_word], sizeof word);
        const int32_t value = static_cast<int32_t>((word >> (bits * (c % per_word))) & mask);
        target[r * unpacked_size + c] = static_cast<int8_t>(value - offset);
      }
    }
  });
  return packed_dim == 0 ? out.t().contiguous() : out;
}

at::Tensor deq_scale_to_int64(const at::Tensor& deq_scale_f32) {
  SLIM_INTERNAL_ASSERT(deq_scale_f32.scalar_type() == at::kFloat, "deq_scale must be fp32");
  const at::Tensor input = deq_scale_f32.contiguous();
  at::Tensor out = at::empty(input.sizes(), input.options().dtype(at::kLong));
  const float* source = input.data_ptr<float>();
  int64_t* target = out.data_ptr<int64_t>();
  for (int64_t i = 0; i < input.numel(); ++i) {
    int32_t pattern;
    std::memcpy(&pattern, &source[i], sizeof pattern);
    target[i] = static_cast<int64_t>(pattern);  // sign extension
  }
  return out;
}

at::Tensor deq_scale_from_int64(const at::Tensor& encoded) {
  SLIM_INTERNAL_ASSERT(encoded.scalar_type() == at::kLong, "encoded deq_scale must be int64");
  const at::Tensor input = encoded.contiguous();
  at::Tensor out = at::empty(input.sizes(), input.options().dtype(at::kFloat));
  const int64_t* source = input.data_ptr<int64_t>();
  float* target = out.data_ptr<float>();
  for (int64_t i = 0; i < input.numel(); ++i) {
    target[i] = bits_float(static_cast<uint32_t>(static_cast<uint64_t>(source[i]) & 0xFFFFFFFFu));
  }
  return out;
}

std::string safetensors_dtype(const at::Tensor& tensor) {
  return io::dtype_name(io::dtype_from_scalar_type(tensor.scalar_type()));
}

void write_listed_tensor(io::SafetensorsWriter& writer, const std::string& name,
                         const std::string& dtype, const at::Tensor& tensor) {
  if (dtype == io::dtype_name(io::Dtype::F8_E4M3)) {
    writer.add_raw(name, io::Dtype::F8_E4M3, tensor.sizes().vec(), tensor.data_ptr(),
                   tensor.nbytes());
  } else {
    writer.add(name, tensor);
  }
}

bool all_integral(const at::Tensor& values) {
  if (!values.defined() || values.numel() == 0) return true;
  const at::Tensor as_double = values.to(at::kDouble);
  return at::equal(as_double, at::round(as_double));
}

bool all_zero(const at::Tensor& values) {
  return !values.defined() || values.numel() == 0 || !values.ne(0).any().item<bool>();
}

quant::DeployedLinear float_linear_record(const std::string& module, const at::Tensor& weight,
                                          const std::optional<at::Tensor>& bias) {
  // model_dtype only matters to W8A8's deq_scale; a float record takes its weight's.
  const at::ScalarType dtype = weight.defined() && at::isFloatingType(weight.scalar_type())
                                   ? weight.scalar_type()
                                   : at::kBFloat16;
  return quant::make_deployed_linear(module, quant::DeployedForm{}, weight, {}, {}, bias, {}, {},
                                     dtype);
}

std::vector<std::string> model_files_to_copy(const std::string& model_path,
                                             const std::vector<std::string>& suffixes) {
  SLIM_CHECK(fs::is_directory(model_path), model_path,
             ": model directory (for config and tokenizer files) does not exist");
  std::vector<std::string> names;
  for (const auto& entry : fs::directory_iterator(model_path)) {
    if (!entry.is_regular_file()) continue;
    const std::string name = entry.path().filename().string();
    if (ends_with(name, "index.json")) continue;
    if (std::any_of(suffixes.begin(), suffixes.end(),
                    [&](const std::string& suffix) { return ends_with(name, suffix); })) {
      names.push_back(name);
    }
  }
  std::sort(names.begin(), names.end());
  return names;
}

bool remove_quantization_config(nlohmann::ordered_json& config) {
  bool removed = false;
  if (config.is_object() && config.contains("quantization_config")) {
    config.erase("quantization_config");
    removed = true;
  }
  if (config.is_object() && config.contains("text_config") && config["text_config"].is_object() &&
      config["text_config"].contains("quantization_config")) {
    config["text_config"].erase("quantization_config");
    removed = true;
  }
  return removed;
}

const char* const kQuarotRotationFile = "optional/quarot.safetensors";

void write_global_rotation(const std::string& directory, const at::Tensor& rotation, int mode) {
  SLIM_CHECK(rotation.dim() == 2 && rotation.size(0) == rotation.size(1),
             "global rotation: expected a square matrix, found ", rotation.sizes());
  const fs::path path = fs::path(directory) / kQuarotRotationFile;
  fs::create_directories(path.parent_path());
  io::SafetensorsWriterOptions options;
  options.basename = path.stem().string();
  io::SafetensorsWriter writer(path.parent_path().string(), options);
  writer.add("global_rotation", rotation.to(at::kCPU, at::kFloat).contiguous());
  writer.finish();
  fs::permissions(path, static_cast<fs::perms>(mode), fs::perm_options::replace);
}

void copy_file_with_mode(const std::string& source, const std::string& destination, int mode) {
  std::error_code error;
  fs::copy_file(source, destination, fs::copy_options::overwrite_existing, error);
  SLIM_CHECK(!error, source, ": cannot copy to ", destination, ": ", error.message());
  SLIM_CHECK(::chmod(destination.c_str(), static_cast<mode_t>(mode)) == 0, destination,
             ": chmod failed: ", std::strerror(errno));
}

void write_file_with_mode(const std::string& path, const std::string& contents, int mode) {
  write_file(path, contents);
  SLIM_CHECK(::chmod(path.c_str(), static_cast<mode_t>(mode)) == 0, path,
             ": chmod failed: ", std::strerror(errno));
}

void write_extra_files(const std::string& directory,
                       const std::vector<std::pair<std::string, std::string>>& files, int mode,
                       const std::string& who) {
  for (const auto& [name, contents] : files) {
    SLIM_CHECK(!name.empty() && name[0] != '/' && name.find("..") == std::string::npos, who,
               ": extra file name ", quote(name), " must be a relative path");
    const std::filesystem::path path = std::filesystem::path(directory) / name;
    std::filesystem::create_directories(path.parent_path());
    write_file_with_mode(path.string(), contents, mode);
  }
}

std::vector<std::string> files_under(const std::string& directory) {
  std::vector<std::string> files;
  for (const auto& entry : std::filesystem::recursive_directory_iterator(directory)) {
    if (entry.is_regular_file())
      files.push_back(std::filesystem::relative(entry.path(), directory).string());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::optional<at::ScalarType> config_torch_dtype(const nlohmann::json& config) {
  for (const char* key : {"dtype", "torch_dtype"}) {
    if (config.is_object() && config.contains(key) && config[key].is_string()) {
      return io::parse_torch_dtype_name(config[key].get<std::string>());
    }
  }
  return std::nullopt;
}

}  // namespace slim::exporter::detail
