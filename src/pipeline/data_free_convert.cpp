#include "slim/pipeline/data_free_convert.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <map>
#include <set>

#include "pipeline/non_layer_tensors.h"
#include "slim/core/error.h"
#include "slim/core/name_match.h"
#include "slim/core/progress.h"
#include "slim/export/quantized_saver.h"
#include "slim/io/model_config.h"
#include "slim/io/safetensors.h"
#include "slim/model/family.h"
#include "slim/model/tensor_layout.h"
#include "slim/quant/deployed_forms.h"
#include "slim/quant/numerics.h"

namespace slim::pipeline {

namespace {

// Rows of the deployed-form table that data-free min/max conversion produces: weight-only and
// dynamic-activation forms (static activations need calibration data; float weights need no
// conversion, pruned ones a pruning algorithm).
bool data_free(const quant::DeployedFormSpec& spec) {
  return *spec.cli_name != '\0' && spec.activations != quant::Activations::Static &&
         spec.weight.dtype != quant::QDtype::Float;
}

std::string scheme_list() {
  std::string out;
  for (const auto& name : data_free_schemes())
    out += (out.empty() ? "" : ", ") + name;
  return out;
}

// The deployed form of --scheme, --group_size and --asym.
quant::DeployedForm data_free_form(const DataFreeConvertOptions& options) {
  const std::string& name = options.scheme;
  const quant::DeployedFormSpec* spec = quant::find_form_by_cli_name(name);
  SLIM_CHECK(spec != nullptr, "--scheme: expected one of ", scheme_list(), ", found ", quote(name));
  if (spec->activations == quant::Activations::Static) {
    SLIM_FAIL("--scheme ", name, " (", spec->name,
              ") quantizes activations statically: its input_scale / input_offset come from "
              "calibration data, which data-free conversion does not have; data-free schemes "
              "(weight-only or dynamic activations): ",
              scheme_list());
  }
  if (!data_free(*spec)) {
    SLIM_FAIL("--scheme ", name, " (", spec->name, ", ", spec->summary,
              ") is not a min/max quantization of the weights; data-free schemes: ", scheme_list());
  }
  const int64_t group = options.group_size > 0 ? options.group_size : spec->default_group_size;
  try {
    return quant::make_form(*spec, group, options.asym);
  } catch (const Error& error) {
    SLIM_FAIL("--scheme ", name, options.group_size > 0 ? str(" --group_size ", group) : "",
              options.asym ? " --asym" : "", ": ", error.what());
  }
}

}  // namespace

std::vector<std::string> data_free_schemes() {
  std::vector<std::string> out;
  for (const auto& spec : quant::deployed_form_table()) {
    if (data_free(spec)) out.emplace_back(spec.cli_name);
  }
  return out;
}

DataFreeConvertSummary data_free_convert(const DataFreeConvertOptions& options) {
  const quant::DeployedForm form = data_free_form(options);
  const io::ModelConfig config = io::load_model_config(options.model_path);
  // Not bf16 changes W8A8's deq_scale encoding (spec §7.5); bf16 when config.json says nothing.
  const at::ScalarType model_dtype =
      io::parse_torch_dtype_name(config.dtype).value_or(at::kBFloat16);
  const auto checkpoint = io::SafetensorsCheckpoint::open(options.model_path);
  for (const auto& pattern : options.exclude)
    expand_braces(pattern);  // syntax errors first

  exporter::QuantizedSaveOptions save;
  save.save_path = options.save_path;
  save.overwrite = options.overwrite;
  save.shard_bytes = options.shard_bytes;
  save.model_path = options.model_path;
  const auto output = exporter::make_quantized_saver(options.format, save);
  // Before the first tensor is read: the format says whether it holds the form.
  try {
    output->check(form);
  } catch (const Error& error) {
    SLIM_FAIL("--format ", options.format, " --scheme ", options.scheme, ": ", error.what());
  }

  // Decoder layers first, in checkpoint-layout order (msModelSlim's encounter order: blocks, then
  // the modules outside them, write_non_layer_tensors).
  std::vector<model::ExpectedTensor> order;
  for (const auto& expected : model::expected_tensors(config)) {
    if (expected.layer >= 0) order.push_back(expected);
  }

  DataFreeConvertSummary summary;
  summary.tag = quant::tag_name(form.tag);
  Progress progress("quantize", static_cast<int64_t>(order.size()), "tensors");
  // Tensors read for the current output item; their mapped pages are dropped once it is written,
  // so resident memory stays near one tensor (the page cache keeps the data).
  std::vector<std::string> consumed;
  auto read = [&](const std::string& name) {
    SLIM_CHECK(checkpoint.contains(name), options.model_path, ": missing tensor ", name);
    summary.input_bytes += checkpoint.info(name).nbytes();
    consumed.push_back(name);
    return checkpoint.tensor(name);
  };
  auto release_consumed = [&] {
    for (const auto& name : consumed)
      checkpoint.release(name);
    consumed.clear();
  };
  // An unquantized linear (excluded, or the lm_head), declared as one to the saver.
  auto add_float_linear = [&](const std::string& module, const std::string& weight_name) {
    const at::Tensor weight = read(weight_name);
    std::optional<at::Tensor> bias;
    if (checkpoint.contains(module + ".bias")) bias = read(module + ".bias");
    output->add_float_linear(module, weight, bias);
    summary.float_tensors += bias ? 2 : 1;
    release_consumed();
  };
  for (const auto& expected : order) {
    if (expected.role == model::TensorRole::Bias && expected.layer >= 0) {
      progress.advance();
      continue;  // written with its linear
    }
    const bool linear_weight = expected.role == model::TensorRole::Linear && expected.layer >= 0;
    const std::string& module = expected.module;
    // Routers stay float by role (data-free conversion has no pattern to ask otherwise).
    const bool keep_float = expected.spec != nullptr && !expected.spec->quantizable;
    if (linear_weight && (keep_float || name_matches_any(module, options.exclude))) {
      add_float_linear(module, expected.name);
      progress.advance();
      continue;
    }
    if (!linear_weight) {
      output->add_float(expected.name, read(expected.name));
      ++summary.float_tensors;
      release_consumed();
      progress.advance();
      continue;
    }
    std::optional<at::Tensor> bias;
    if (checkpoint.contains(module + ".bias")) bias = read(module + ".bias");
    const at::Tensor weight = read(expected.name);
    output->add_linear(quant::deploy_linear(module, weight, bias, form.act, form.weight,
                                            std::nullopt, model_dtype, options.numerics));
    ++summary.quantized_linears;
    release_consumed();
    progress.advance();
  }
  const NonLayerCounts tail = write_non_layer_tensors(checkpoint, config, *output);
  summary.float_tensors += tail.float_tensors;
  summary.input_bytes += tail.input_bytes;
  progress.finish();
  summary.files = output->finish();
  return summary;
}

}  // namespace slim::pipeline
