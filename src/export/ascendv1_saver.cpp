// msModelSlim Ascend V1 saver (spec msmodelslim-v1.md §7.1 - §7.8).
#include <ATen/ATen.h>

#include <filesystem>
#include <map>
#include <optional>

#include "export/quant_format_common.h"
#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/export/ascendv1.h"
#include "slim/io/safetensors.h"
#include "slim/model/family.h"
#include "slim/quant/deployed_forms.h"
#include "slim/quant/numerics.h"

namespace slim::exporter {

namespace fs = std::filesystem;
using quant::DeployedLinear;
using quant::DeployedTag;
using quant::QDtype;
using quant::QScope;

namespace {

class TensorList {
 public:
  TensorList(const DeployedLinear& linear)
      : prefix_(linear.name + "."), tag_(tag_name(linear.tag)) {}

  void add(const std::string& suffix, const at::Tensor& tensor) {
    add_tagged(suffix, tensor, tag_);
  }
  void add_tagged(const std::string& suffix, const at::Tensor& tensor, const std::string& tag) {
    const at::Tensor stored = tensor.contiguous();
    tensors_.push_back({prefix_ + suffix, detail::safetensors_dtype(stored), stored, tag});
  }
  void add_f8(const std::string& suffix, const at::Tensor& bytes) {
    tensors_.push_back({prefix_ + suffix, "F8_E4M3", bytes.contiguous(), tag_});
  }
  std::vector<AscendV1Tensor> take() { return std::move(tensors_); }

 private:
  std::string prefix_;
  std::string tag_;
  std::vector<AscendV1Tensor> tensors_;
};

at::Tensor fp32(const at::Tensor& tensor) {
  return tensor.to(at::kFloat).contiguous();
}

// §7.5: deq_scale = s_x * s_w and quant_bias = round(bias / deq_scale - z_x * sum_k q_w[o, k]),
// with s_x, s_w, their product and bias / deq_scale in the model dtype, the correction in fp32,
// the difference promoted to fp32 and rounded half to even.
std::pair<at::Tensor, at::Tensor> deq_scale_and_quant_bias(const DeployedLinear& linear) {
  const at::ScalarType model = linear.model_dtype;
  const at::Tensor input_scale = linear.input_scale.to(model);               // [1]
  const at::Tensor weight_scale = linear.weight_scale.to(model);             // [O, 1]
  const at::Tensor deq_scale = (input_scale * weight_scale).squeeze(1);      // [O], model dtype
  const at::Tensor correction = linear.weight_codes.to(at::kFloat).sum(1) *  // [O], fp32
                                linear.input_offset.to(at::kFloat);
  // Without a bias msModelSlim divides an fp32 zero vector (promoted to fp32); with one, the
  // bias in the model dtype (the quotient rounded to the model dtype).
  const at::Tensor bias =
      linear.bias ? linear.bias->to(model) : at::zeros({linear.out_features()}, at::kFloat);
  const at::Tensor quotient = (bias / deq_scale).to(at::kFloat);
  const at::Tensor quant_bias = at::round(quotient - correction);
  // round() of a huge quotient would wrap in the cast; refuse instead of writing garbage.
  const double limit = 2147483647.0;
  const at::Tensor magnitude = quant_bias.abs();
  if (!quant_bias.isfinite().all().item<bool>() || magnitude.max().item<double>() > limit) {
    SLIM_FAIL("deployed linear ", quote(linear.name), " (", tag_name(linear.tag),
              "): quant_bias = round(bias / deq_scale - z_x * sum(q_w)) is not finite or does "
              "not fit int32; deq_scale = s_x * s_w in the model dtype (",
              c10::toString(model), ") reaches ", deq_scale.abs().min().item<double>());
  }
  return {deq_scale.to(at::kFloat).contiguous(), quant_bias.to(at::kInt).contiguous()};
}

// §7.6: W4A8_DYNAMIC scale_bias for a TP of 16.
at::Tensor w4a8_scale_bias(const DeployedLinear& linear) {
  const at::Tensor dequantized =
      linear.weight_codes.to(at::kFloat) * linear.weight_scale;  // [O, I]
  // The split comes from the family's role table: column-parallel linears (q/k/v, gate/up, the
  // experts' w1/w3) sum over their whole input, row-parallel ones (o, down, w2) per slice.
  const auto role = model::role_of_name(linear.name + ".weight");
  const model::Split split = role ? role->spec->split : model::Split::None;
  if (split == model::Split::Column) return dequantized.sum(1, /*keepdim=*/true) * 8;
  if (split == model::Split::Row) {
    const int64_t out = linear.out_features();
    const int64_t in = linear.in_features();
    SLIM_CHECK(in % 16 == 0, "deployed linear ", quote(linear.name),
               " (W4A8_DYNAMIC): scale_bias sums 16 tensor-parallel slices of the input dim, "
               "which must be a multiple of 16; found ",
               in);
    return dequantized.view({out, 16, in / 16}).sum(-1) * 8;
  }
  return dequantized;
}

at::Tensor mx_scale_bytes(const DeployedLinear& linear) {
  return (linear.weight_scale + 127).to(at::kByte).contiguous();
}

// What the format cannot hold of a valid form, or nullopt. Every tag has a case: a new form
// states here whether Ascend V1 holds it.
std::optional<std::string> refusal(const quant::DeployedForm& form) {
  switch (form.tag) {
    case DeployedTag::W8A8Dynamic:
      // msModelSlim writes zeros whatever the offsets (spec §13.12): an asymmetric weight would
      // deploy as a different weight, so it is refused rather than silently changed.
      if (!form.weight.symmetric) {
        return std::string(
            "the format stores W8A8_DYNAMIC weight_offset as zeros (spec §7.4, §13.12), so "
            "asymmetric weights cannot be saved in it");
      }
      return std::nullopt;
    case DeployedTag::Float:
    case DeployedTag::W16A16S:
    case DeployedTag::W8A16:
    case DeployedTag::W4A16:
    case DeployedTag::W8A8Mix:
    case DeployedTag::W8A8:
    case DeployedTag::WFp8AFp8Dynamic:
    case DeployedTag::W8A8MxFp8:
    case DeployedTag::W4A8MxFp:
    case DeployedTag::W4A8Dynamic:
    case DeployedTag::W4A4Dynamic:
    case DeployedTag::W4A4MxFp4:
      return std::nullopt;
  }
  SLIM_INTERNAL_ASSERT(false, "unknown DeployedTag ", static_cast<int>(form.tag));
}

void check_ascendv1_form(const quant::DeployedForm& form) {
  quant::check_form(form);
  if (const auto why = refusal(form)) {
    SLIM_FAIL("ascendv1 cannot hold ", form.to_string(), ": ", *why);
  }
}

}  // namespace

std::vector<AscendV1Tensor> ascendv1_tensors(const DeployedLinear& linear) {
  linear.validate();
  try {
    check_ascendv1_form(linear.form());
  } catch (const Error& error) {
    SLIM_FAIL("deployed linear ", quote(linear.name), ": ", error.what());
  }
  TensorList out(linear);
  const std::string where = linear.name + ".weight";
  const auto add_bias = [&](const char* tag) {
    if (linear.bias) out.add_tagged("bias", fp32(*linear.bias), tag);
  };
  switch (linear.tag) {
    case DeployedTag::Float:
      out.add("weight", linear.weight_codes);
      if (linear.bias) out.add("bias", *linear.bias);
      break;
    case DeployedTag::W16A16S:
      out.add("weight", linear.weight_codes);
      if (linear.bias) out.add("bias", *linear.bias);
      break;
    case DeployedTag::W8A8:
    case DeployedTag::W8A8Mix: {
      const auto [deq_scale, quant_bias] = deq_scale_and_quant_bias(linear);
      out.add("weight", linear.weight_codes);
      out.add("quant_bias", quant_bias);
      out.add("input_scale", fp32(linear.input_scale));
      out.add("input_offset", fp32(linear.input_offset));
      out.add("deq_scale", linear.model_dtype == at::kBFloat16
                               ? deq_scale
                               : detail::deq_scale_to_int64(deq_scale));
      if (linear.tag == DeployedTag::W8A8Mix) {
        out.add("weight_scale", fp32(linear.weight_scale));
        out.add("weight_offset", at::zeros_like(fp32(linear.weight_scale)));
      }
      add_bias("FLOAT");
      break;
    }
    case DeployedTag::W8A8Dynamic:
      // Symmetric (check_ascendv1_form): the offsets are zeros, as the format stores them.
      out.add("weight", linear.weight_codes);
      out.add("weight_scale", fp32(linear.weight_scale));
      out.add("weight_offset", at::zeros_like(fp32(linear.weight_scale)));
      add_bias("FLOAT");
      break;
    case DeployedTag::W8A16:
    case DeployedTag::W4A4Dynamic:
      out.add("weight", linear.weight_codes);
      out.add("weight_scale", fp32(linear.weight_scale));
      out.add("weight_offset", fp32(linear.weight_offset));
      add_bias("FLOAT");
      break;
    case DeployedTag::W4A16:
      SLIM_CHECK(linear.out_features() % 2 == 0, "deployed linear ", quote(linear.name),
                 " (W4A16): int4 pairs are packed along the output dim, which must be even; "
                 "found ",
                 linear.out_features());
      out.add("weight", quant::pack_int4_along_out(where, linear.weight_codes));
      out.add("weight_scale", fp32(linear.weight_scale));
      out.add("weight_offset", fp32(linear.weight_offset));
      add_bias("FLOAT");
      break;
    case DeployedTag::W4A8Dynamic: {
      const at::Tensor scale_bias = w4a8_scale_bias(linear);
      out.add("weight", quant::pack_int4_along_out(where, linear.weight_codes));
      out.add("weight_scale", fp32(linear.weight_scale));
      out.add("weight_offset", at::zeros_like(fp32(linear.weight_scale)));
      out.add("scale_bias", fp32(scale_bias));
      add_bias("FLOAT");
      break;
    }
    case DeployedTag::WFp8AFp8Dynamic:
      out.add_f8("weight", quant::e4m3_to_bytes(where, linear.weight_codes));
      out.add("weight_scale", fp32(linear.weight_scale));
      out.add("weight_offset", at::zeros_like(fp32(linear.weight_scale)));
      add_bias("FLOAT");
      break;
    case DeployedTag::W8A8MxFp8:
      out.add_f8("weight", quant::e4m3_to_bytes(where, linear.weight_codes));
      out.add("weight_scale", mx_scale_bytes(linear));
      add_bias("FLOAT");
      break;
    case DeployedTag::W4A8MxFp:
    case DeployedTag::W4A4MxFp4:
      out.add("weight", quant::pack_e2m1(where, linear.weight_codes));
      out.add("weight_scale", mx_scale_bytes(linear));
      add_bias("FLOAT");
      break;
  }
  return out.take();
}

// ------------------------------------------------------------------------------------ saver

struct AscendV1Saver::State {
  AscendV1SaveOptions options;
  AtomicOutputDir output;
  std::optional<io::SafetensorsWriter> writer;  // destroyed before `output`
  nlohmann::ordered_json description = nlohmann::ordered_json::object();
  nlohmann::ordered_json appended = nlohmann::ordered_json::object();  // kv / fa entries
  std::string model_quant_type = "Unknown";
  std::optional<int> model_quant_priority;
  int64_t group_size = 0;
  bool untied = false;         // config.json: tie_word_embeddings false
  at::Tensor global_rotation;  // optional/quarot.safetensors
  bool finished = false;

  explicit State(AscendV1SaveOptions opts)
      : options(std::move(opts)), output(options.save_path, options.overwrite) {
    io::SafetensorsWriterOptions writer_options;
    writer_options.basename = kAscendV1WeightsBasename;
    // msModelSlim flushes the pending shard when pending + size >= part_file_size * 2^30; the
    // writer closes a shard when bytes + size > max_shard_bytes, hence the - 1.
    writer_options.max_shard_bytes = options.part_file_bytes == 0 ? 0 : options.part_file_bytes - 1;
    writer_options.always_index = options.part_file_bytes > 0;
    writer.emplace(output.path(), writer_options);
  }

  void check_open(const std::string& what) const {
    SLIM_CHECK(!finished, "ascendv1 saver: ", what, " after finish()");
  }

  void write(const AscendV1Tensor& tensor) {
    SLIM_CHECK(!description.contains(tensor.name), "ascendv1 saver: tensor ", quote(tensor.name),
               " written twice");
    detail::write_listed_tensor(*writer, tensor.name, tensor.dtype, tensor.tensor);
    description[tensor.name] = tensor.tag;
  }

  // A tensor outside the linears, with its tag.
  void write_as_is(const std::string& name, const at::Tensor& tensor, const std::string& tag) {
    SLIM_CHECK(tensor.defined(), "ascendv1 saver: tensor ", quote(name), " is undefined");
    if (tensor.device().is_meta()) return;  // as msModelSlim: meta tensors are skipped
    write({name, detail::safetensors_dtype(tensor), tensor.to(at::kCPU).contiguous(), tag});
  }

  void update_model_quant_type(DeployedTag tag) {
    const std::optional<int> priority = quant::model_type_priority(tag);
    if (!priority) return;
    if (!model_quant_priority || *priority > *model_quant_priority) {
      model_quant_priority = priority;
      model_quant_type = tag_name(tag);
    }
  }
};

AscendV1Saver::AscendV1Saver(AscendV1SaveOptions options)
    : state_(std::make_unique<State>(std::move(options))) {}

AscendV1Saver::~AscendV1Saver() = default;

void AscendV1Saver::add_linear(const DeployedLinear& linear) {
  state_->check_open("add_linear");
  // Everything is computed (and checked) before anything is written.
  const std::vector<AscendV1Tensor> tensors = ascendv1_tensors(linear);
  for (const auto& tensor : tensors) {
    SLIM_CHECK(!state_->description.contains(tensor.name), "ascendv1 saver: tensor ",
               quote(tensor.name), " written twice");
  }
  for (const auto& tensor : tensors)
    state_->write(tensor);
  state_->update_model_quant_type(linear.tag);
  const bool mx = linear.weight.dtype == QDtype::MxFp8 || linear.weight.dtype == QDtype::MxFp4;
  if (mx) {
    state_->group_size = 32;
  } else if (linear.weight.scope == QScope::PerGroup) {
    state_->group_size = linear.weight.group_size;
  }
}

void AscendV1Saver::check(const quant::DeployedForm& form) const {
  check_ascendv1_form(form);
}

void AscendV1Saver::add_float_linear(const std::string& module, const at::Tensor& weight,
                                     const std::optional<at::Tensor>& bias) {
  state_->check_open("add_float_linear");
  add_linear(detail::float_linear_record(module, weight, bias));
}

void AscendV1Saver::add_float(const std::string& name, const at::Tensor& tensor) {
  state_->check_open("add_float");
  state_->write_as_is(name, tensor, "FLOAT");
}

void AscendV1Saver::add_extra(const std::string& name, const at::Tensor& tensor,
                              const std::string& tag) {
  state_->check_open("add_extra");
  SLIM_CHECK(tag == "C8" || tag == "FAQuant", "ascendv1 saver: tensor ", quote(name), ": tag ",
             quote(tag),
             " is not an extra (C8, FAQuant); float tensors go through add_float, linears through "
             "add_linear / add_float_linear");
  state_->write_as_is(name, tensor, tag);
  if (tag == "C8") {
    state_->appended["kv_cache_type"] = "C8";
    state_->appended["kv_quant_type"] = "C8";
  } else {
    state_->appended["fa_quant_type"] = "FAKQuant";
  }
}

void AscendV1Saver::add_description(const std::string& key, const std::string& value) {
  state_->check_open("add_description");
  SLIM_CHECK(!state_->description.contains(key), "ascendv1 saver: description key ", quote(key),
             " written twice");
  state_->description[key] = value;
}

void AscendV1Saver::add_norm_bias(const std::string& name, const at::Tensor& tensor) {
  add_float(name, tensor);
}

void AscendV1Saver::untie_word_embeddings() {
  state_->check_open("untie_word_embeddings");
  state_->untied = true;
}

void AscendV1Saver::add_global_rotation(const at::Tensor& rotation) {
  state_->check_open("add_global_rotation");
  SLIM_CHECK(!state_->global_rotation.defined(), "ascendv1 saver: global rotation written twice");
  state_->global_rotation = rotation.to(at::kCPU, at::kFloat).contiguous();
  state_->options.optional["quarot"] = {
      {"rotation_map", {{"global_rotation", detail::kQuarotRotationFile}}}};
}

std::vector<std::string> AscendV1Saver::finish() {
  State& s = *state_;
  s.check_open("finish");
  s.finished = true;
  const std::string dir = s.output.path();
  s.writer->finish();
  if (s.global_rotation.defined()) detail::write_global_rotation(dir, s.global_rotation, 0600);

  nlohmann::ordered_json description = s.description;
  for (const auto& [key, value] : s.appended.items())
    description[key] = value;
  description["version"] = "1.0.0";
  description["model_quant_type"] = s.model_quant_type;
  description["metadata"] = s.options.metadata;
  description["group_size"] = s.group_size;
  description["optional"] = s.options.optional;
  // json.dump(..., indent=4) with Python's default ensure_ascii.
  detail::write_file_with_mode(dir + "/" + kAscendV1Description, description.dump(4, ' ', true),
                               0600);

  if (!s.options.model_path.empty()) {
    for (const auto& name :
         detail::model_files_to_copy(s.options.model_path, {".json", ".py", ".txt", ".jinja"})) {
      if (name == kAscendV1Description) continue;  // never clobber what was just written
      const std::string source = s.options.model_path + "/" + name;
      const std::string target = dir + "/" + name;
      if (name == "config.json") {
        nlohmann::ordered_json config;
        try {
          config = nlohmann::ordered_json::parse(read_file(source));
        } catch (const nlohmann::json::exception& error) {
          SLIM_FAIL(source, ": invalid JSON: ", error.what());
        }
        const bool removed = detail::remove_quantization_config(config);
        if (s.untied) config["tie_word_embeddings"] = false;
        if (removed || s.untied) {
          detail::write_file_with_mode(target, config.dump(2), 0600);
          continue;
        }
      }
      detail::copy_file_with_mode(source, target, 0600);
    }
  }
  detail::write_extra_files(dir, s.options.extra_files, 0600, "ascendv1 saver");
  std::vector<std::string> files = detail::files_under(dir);
  s.writer.reset();
  s.output.commit();
  return files;
}

std::vector<std::string> save_ascendv1(const std::vector<AscendV1Item>& items,
                                       const AscendV1SaveOptions& options) {
  AscendV1Saver saver(options);
  for (const auto& item : items) {
    if (const auto* linear = std::get_if<DeployedLinear>(&item)) {
      saver.add_linear(*linear);
    } else {
      const auto& tensor = std::get<FloatTensor>(item);
      saver.add_float(tensor.name, tensor.tensor);
    }
  }
  return saver.finish();
}

}  // namespace slim::exporter

namespace slim::exporter {

// msModelSlim's saver clones tensors that share storage so that both keys exist (§7.1).
bool AscendV1Saver::writes_tied_weights_twice() const {
  return true;
}

}  // namespace slim::exporter
