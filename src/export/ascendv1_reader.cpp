// Reads the msModelSlim Ascend V1 format (spec msmodelslim-v1.md §7) back into deployed linears.
#include <ATen/ATen.h>

#include <filesystem>
#include <set>

#include "export/quant_format_common.h"
#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/text.h"
#include "slim/export/ascendv1.h"
#include "slim/io/safetensors.h"
#include "slim/quant/numerics.h"

namespace slim::exporter {

namespace fs = std::filesystem;
using quant::DeployedLinear;
using quant::DeployedTag;
using quant::QDtype;
using quant::QScheme;
using quant::QScope;

namespace {

// Description keys that are not tensors.
const std::set<std::string> kReservedKeys = {
    "version",       "model_quant_type", "group_size",    "metadata",          "optional",
    "kv_cache_type", "kv_quant_type",    "fa_quant_type", "reduce_quant_type",
};

// Tags whose `P.weight` makes P a linear the reader turns into a DeployedLinear, and the tensor
// suffixes (besides weight and bias) each one owns.
struct TagLayout {
  DeployedTag tag;
  std::vector<std::string> suffixes;
};
const std::vector<TagLayout>& tag_layouts() {
  static const std::vector<TagLayout> layouts = {
      {DeployedTag::W16A16S, {}},
      {DeployedTag::W8A8, {"quant_bias", "input_scale", "input_offset", "deq_scale"}},
      {DeployedTag::W8A8Mix,
       {"quant_bias", "input_scale", "input_offset", "deq_scale", "weight_scale", "weight_offset"}},
      {DeployedTag::W8A8Dynamic, {"weight_scale", "weight_offset"}},
      {DeployedTag::W8A16, {"weight_scale", "weight_offset"}},
      {DeployedTag::W4A16, {"weight_scale", "weight_offset"}},
      {DeployedTag::W4A8Dynamic, {"weight_scale", "weight_offset", "scale_bias"}},
      {DeployedTag::W4A4Dynamic, {"weight_scale", "weight_offset"}},
      {DeployedTag::WFp8AFp8Dynamic, {"weight_scale", "weight_offset"}},
      {DeployedTag::W8A8MxFp8, {"weight_scale"}},
      {DeployedTag::W4A8MxFp, {"weight_scale"}},
      {DeployedTag::W4A4MxFp4, {"weight_scale"}},
  };
  return layouts;
}

const TagLayout* layout_of(const std::string& tag) {
  for (const auto& layout : tag_layouts()) {
    if (tag == tag_name(layout.tag)) return &layout;
  }
  return nullptr;
}

QScheme scheme(QDtype dtype, QScope scope, bool symmetric = true, int64_t group_size = 0) {
  QScheme out;
  out.dtype = dtype;
  out.scope = scope;
  out.symmetric = symmetric;
  out.group_size = group_size;
  return out;
}

QScheme float_scheme() {
  return scheme(QDtype::Float, QScope::PerTensor);
}

}  // namespace

AscendV1Reader::AscendV1Reader(const std::string& directory,
                               std::optional<at::ScalarType> model_dtype)
    : directory_(directory) {
  SLIM_CHECK(fs::is_directory(directory_), directory_, ": not a directory");
  const std::string base = directory_ + "/" + kAscendV1WeightsBasename;
  const std::string index = base + ".safetensors.index.json";
  const std::string single = base + ".safetensors";
  if (fs::exists(index)) {
    checkpoint_ =
        std::make_shared<io::SafetensorsCheckpoint>(io::SafetensorsCheckpoint::open(index));
  } else if (fs::exists(single)) {
    checkpoint_ =
        std::make_shared<io::SafetensorsCheckpoint>(io::SafetensorsCheckpoint::open(single));
  } else {
    SLIM_FAIL(directory_, ": neither ", kAscendV1WeightsBasename, ".safetensors nor ",
              kAscendV1WeightsBasename, ".safetensors.index.json: not an Ascend V1 directory");
  }

  const std::string description_path = directory_ + "/" + kAscendV1Description;
  SLIM_CHECK(fs::exists(description_path), directory_, ": ", kAscendV1Description,
             " is missing: not an Ascend V1 directory");
  try {
    description_ = nlohmann::ordered_json::parse(read_file(description_path));
  } catch (const nlohmann::json::exception& error) {
    SLIM_FAIL(description_path, ": invalid JSON: ", error.what());
  }
  SLIM_CHECK(description_.is_object(), description_path, ": expected a JSON object");
  if (description_.contains("model_quant_type") && description_["model_quant_type"].is_string()) {
    model_quant_type_ = description_["model_quant_type"].get<std::string>();
  }
  if (description_.contains("group_size") && description_["group_size"].is_number_integer()) {
    group_size_ = description_["group_size"].get<int64_t>();
  }

  if (model_dtype) {
    model_dtype_ = *model_dtype;
  } else if (fs::exists(directory_ + "/config.json")) {
    nlohmann::json config;
    try {
      config = nlohmann::json::parse(read_file(directory_ + "/config.json"));
    } catch (const nlohmann::json::exception& error) {
      SLIM_FAIL(directory_, "/config.json: invalid JSON: ", error.what());
    }
    model_dtype_ = detail::config_torch_dtype(config).value_or(at::kBFloat16);
  }

  // Classify the tensors: the description lists them in encounter order.
  std::set<std::string> consumed;
  for (const auto& [key, value] : description_.items()) {
    if (kReservedKeys.count(key) || !value.is_string() || !ends_with(key, ".weight")) continue;
    const std::string tag = value.get<std::string>();
    const TagLayout* layout = layout_of(tag);
    if (layout == nullptr || !checkpoint_->contains(key)) continue;
    const std::string module = key.substr(0, key.size() - std::string(".weight").size());
    for (const auto& suffix : layout->suffixes) {
      const std::string name = module + "." + suffix;
      SLIM_CHECK(checkpoint_->contains(name), description_path, ": linear ", quote(module),
                 " is tagged ", tag, " but tensor ", quote(name), " is missing");
      consumed.insert(name);
    }
    consumed.insert(key);
    if (checkpoint_->contains(module + ".bias")) consumed.insert(module + ".bias");
    linears_.push_back(module);
    linear_tags_.emplace_back(module, tag);
  }
  for (const auto& [key, value] : description_.items()) {
    if (kReservedKeys.count(key) || consumed.count(key) || !value.is_string()) continue;
    if (!checkpoint_->contains(key)) continue;  // e.g. "<attn>.quant_type" descriptors
    const std::string tag = value.get<std::string>();
    if (tag == "FLOAT") {
      float_tensors_.push_back(key);
    } else {
      other_tensors_.emplace_back(key, tag);
    }
    consumed.insert(key);
  }
  // Tensors the description does not list (QuaRot rotations, §7.7) come last, untagged.
  for (const auto& name : checkpoint_->names()) {
    if (!consumed.count(name)) other_tensors_.emplace_back(name, "");
  }
}

AscendV1Reader::~AscendV1Reader() = default;
AscendV1Reader::AscendV1Reader(AscendV1Reader&&) noexcept = default;
AscendV1Reader& AscendV1Reader::operator=(AscendV1Reader&&) noexcept = default;

at::Tensor AscendV1Reader::tensor(const std::string& name) const {
  return checkpoint_->tensor(name);
}

DeployedLinear AscendV1Reader::linear(const std::string& module) const {
  std::string tag;
  for (const auto& [name, value] : linear_tags_) {
    if (name == module) tag = value;
  }
  SLIM_CHECK(!tag.empty(), directory_, ": no quantized linear ", quote(module));
  const std::string prefix = module + ".";
  const auto read = [&](const std::string& suffix) { return checkpoint_->tensor(prefix + suffix); };
  const auto read_dtype = [&](const std::string& suffix) {
    return checkpoint_->info(prefix + suffix).dtype;
  };
  const auto expect_dtype = [&](const std::string& suffix, io::Dtype dtype) {
    SLIM_CHECK(read_dtype(suffix) == dtype, directory_, ": tensor ", quote(prefix + suffix),
               " of a ", tag, " linear must be ", io::dtype_name(dtype), ", found ",
               io::dtype_name(read_dtype(suffix)));
  };
  const auto has = [&](const std::string& suffix) {
    return checkpoint_->contains(prefix + suffix);
  };

  DeployedLinear linear;
  linear.name = module;
  linear.model_dtype = model_dtype_;
  if (has("bias")) linear.bias = read("bias").clone();
  const auto weight_scheme_from_scale = [&](QDtype dtype, const at::Tensor& scale,
                                            const at::Tensor& offset, int64_t in) {
    const int64_t columns = scale.dim() == 2 ? scale.size(1) : 1;
    const bool symmetric = detail::all_zero(offset);
    if (columns == 1) return scheme(dtype, QScope::PerChannel, symmetric);
    SLIM_CHECK(in % columns == 0, directory_, ": linear ", quote(module), ": ", columns,
               " scale groups do not divide the input dim ", in);
    return scheme(dtype, QScope::PerGroup, symmetric, in / columns);
  };

  const auto fill_int_weight = [&](QDtype dtype, const at::Tensor& codes) {
    linear.weight_codes = codes;
    expect_dtype("weight_scale", io::Dtype::F32);
    linear.weight_scale = read("weight_scale").clone();
    if (has("weight_offset")) {
      expect_dtype("weight_offset", io::Dtype::F32);
      linear.weight_offset = read("weight_offset").clone();
    } else {
      linear.weight_offset = at::zeros_like(linear.weight_scale);
    }
    linear.weight =
        weight_scheme_from_scale(dtype, linear.weight_scale, linear.weight_offset, codes.size(1));
  };

  const DeployedTag deployed = [&] {
    for (const auto& layout : tag_layouts()) {
      if (tag == tag_name(layout.tag)) return layout.tag;
    }
    SLIM_INTERNAL_ASSERT(false, "unknown tag ", tag);
  }();
  linear.tag = deployed;
  switch (deployed) {
    case DeployedTag::W16A16S:
    case DeployedTag::Float:
      linear.weight_codes = read("weight").clone();
      linear.act = float_scheme();
      linear.weight = float_scheme();
      break;
    case DeployedTag::W8A8:
    case DeployedTag::W8A8Mix: {
      expect_dtype("weight", io::Dtype::I8);
      expect_dtype("input_scale", io::Dtype::F32);
      expect_dtype("input_offset", io::Dtype::F32);
      linear.weight_codes = read("weight").clone();
      linear.input_scale = read("input_scale").clone().reshape({1});
      linear.input_offset = read("input_offset").clone().reshape({1});
      const io::Dtype deq_dtype = read_dtype("deq_scale");
      SLIM_CHECK(deq_dtype == io::Dtype::F32 || deq_dtype == io::Dtype::I64, directory_,
                 ": tensor ", quote(prefix + "deq_scale"), " must be F32 or I64, found ",
                 io::dtype_name(deq_dtype));
      const at::Tensor deq_scale = deq_dtype == io::Dtype::I64
                                       ? detail::deq_scale_from_int64(read("deq_scale"))
                                       : read("deq_scale").clone();
      if (deployed == DeployedTag::W8A8Mix) {
        expect_dtype("weight_scale", io::Dtype::F32);
        linear.weight_scale = read("weight_scale").clone();
        linear.act = scheme(QDtype::Int8, QScope::PdMix, false);
      } else {
        // s_w is not stored: recover it from deq_scale = s_x * s_w.
        linear.weight_scale = (deq_scale / linear.input_scale).unsqueeze(1).contiguous();
        linear.act = scheme(QDtype::Int8, QScope::PerTensor, detail::all_zero(linear.input_offset));
      }
      linear.weight_offset = at::zeros_like(linear.weight_scale);
      linear.weight = scheme(QDtype::Int8, QScope::PerChannel);
      break;
    }
    case DeployedTag::W8A8Dynamic:
      expect_dtype("weight", io::Dtype::I8);
      fill_int_weight(QDtype::Int8, read("weight").clone());
      linear.act = scheme(QDtype::Int8, QScope::PerToken);
      break;
    case DeployedTag::W8A16:
      expect_dtype("weight", io::Dtype::I8);
      fill_int_weight(QDtype::Int8, read("weight").clone());
      linear.act = float_scheme();
      break;
    case DeployedTag::W4A16:
      expect_dtype("weight", io::Dtype::I8);
      fill_int_weight(QDtype::Int4, quant::unpack_int4_along_out(read("weight")));
      linear.act = float_scheme();
      break;
    case DeployedTag::W4A8Dynamic:
      expect_dtype("weight", io::Dtype::I8);
      fill_int_weight(QDtype::Int4, quant::unpack_int4_along_out(read("weight")));
      linear.act = scheme(QDtype::Int8, QScope::PerToken);
      break;
    case DeployedTag::W4A4Dynamic:
      expect_dtype("weight", io::Dtype::I8);
      fill_int_weight(QDtype::Int4, read("weight").clone());
      linear.act = scheme(QDtype::Int4, QScope::PerToken);
      break;
    case DeployedTag::WFp8AFp8Dynamic:
      expect_dtype("weight", io::Dtype::F8_E4M3);
      expect_dtype("weight_scale", io::Dtype::F32);
      linear.weight_codes = quant::e4m3_from_bytes(read("weight"));
      linear.weight_scale = read("weight_scale").clone();
      linear.weight_offset = at::zeros_like(linear.weight_scale);
      linear.act = scheme(QDtype::Fp8E4M3, QScope::PerToken);
      linear.weight = scheme(QDtype::Fp8E4M3, QScope::PerChannel);
      break;
    case DeployedTag::W8A8MxFp8:
    case DeployedTag::W4A8MxFp:
    case DeployedTag::W4A4MxFp4: {
      expect_dtype("weight_scale", io::Dtype::U8);
      linear.weight_scale = read("weight_scale").to(at::kInt) - 127;
      const bool fp8_weight = deployed == DeployedTag::W8A8MxFp8;
      if (fp8_weight) {
        expect_dtype("weight", io::Dtype::F8_E4M3);
        linear.weight_codes = quant::e4m3_from_bytes(read("weight"));
      } else {
        expect_dtype("weight", io::Dtype::U8);
        linear.weight_codes = quant::unpack_e2m1(read("weight"));
      }
      const QDtype act = deployed == DeployedTag::W4A4MxFp4 ? QDtype::MxFp4 : QDtype::MxFp8;
      linear.act = scheme(act, QScope::PerBlock, true, 32);
      linear.weight =
          scheme(fp8_weight ? QDtype::MxFp8 : QDtype::MxFp4, QScope::PerBlock, true, 32);
      break;
    }
  }
  try {
    linear.validate();
  } catch (const Error& error) {
    SLIM_FAIL(directory_, ": ", error.what());
  }
  return linear;
}

}  // namespace slim::exporter
