#include "slim/pipeline/data_free_convert.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <functional>
#include <map>
#include <set>

#include "slim/core/error.h"
#include "slim/core/name_match.h"
#include "slim/core/progress.h"
#include "slim/export/quantized_saver.h"
#include "slim/io/model_config.h"
#include "slim/io/safetensors.h"
#include "slim/model/family.h"
#include "slim/model/tensor_layout.h"
#include "slim/quant/numerics.h"
#include "slim/quant/scheme.h"

namespace slim::pipeline {

namespace {

using quant::QDtype;
using quant::QScheme;
using quant::QScope;

struct SchemePair {
  QScheme act;
  QScheme weight;
};

SchemePair scheme_pair(const DataFreeConvertOptions& options) {
  const std::string& name = options.scheme;
  SchemePair pair;  // act defaults to float per_tensor: weight-only
  if (name == "w8a16" || name == "w4a16") {
    const bool int4 = name == "w4a16";
    pair.weight.dtype = int4 ? QDtype::Int4 : QDtype::Int8;
    pair.weight.symmetric = !options.asym;
    const int64_t group = options.group_size > 0 ? options.group_size : (int4 ? 128 : 0);
    pair.weight.scope = group > 0 ? QScope::PerGroup : QScope::PerChannel;
    pair.weight.group_size = group;
    return pair;
  }
  SLIM_CHECK(!options.asym && options.group_size == 0, "--scheme ", name,
             ": --asym and --group_size apply to w8a16 and w4a16 only");
  if (name == "wfp8") {
    pair.weight = {QDtype::Fp8E4M3, QScope::PerChannel, true, 0};
    pair.act = {QDtype::Fp8E4M3, QScope::PerToken, true, 0};
  } else if (name == "mxfp8" || name == "mxfp4") {
    const QDtype dtype = name == "mxfp8" ? QDtype::MxFp8 : QDtype::MxFp4;
    pair.weight = {dtype, QScope::PerBlock, true, 32};
    pair.act = {dtype, QScope::PerBlock, true, 32};
  } else {
    SLIM_FAIL("--scheme: expected w8a16, w4a16, wfp8, mxfp8 or mxfp4, found ", quote(name));
  }
  return pair;
}

}  // namespace

DataFreeConvertSummary data_free_convert(const DataFreeConvertOptions& options) {
  const SchemePair pair = scheme_pair(options);
  const io::ModelConfig config = io::load_model_config(options.model_path);
  // Not bf16 changes W8A8's deq_scale encoding (spec §7.5); bf16 when config.json says nothing.
  const at::ScalarType model_dtype =
      io::parse_torch_dtype_name(config.dtype).value_or(at::kBFloat16);
  const auto checkpoint = io::SafetensorsCheckpoint::open(options.model_path);
  // Fails now, naming the valid pairs, rather than after the first layer.
  const quant::DeployedTag tag = quant::select_deployed_tag(pair.act, pair.weight);
  for (const auto& pattern : options.exclude)
    expand_braces(pattern);  // syntax errors first

  exporter::QuantizedSaveOptions save;
  save.save_path = options.save_path;
  save.overwrite = options.overwrite;
  save.shard_bytes = options.shard_bytes;
  save.model_path = options.model_path;
  const auto output = exporter::make_quantized_saver(options.format, save);
  SLIM_CHECK(output->supports(tag), "--format ", options.format, " cannot hold ",
             quant::tag_name(tag), " linears (--scheme ", options.scheme, ")");

  // Decoder layers first, in checkpoint-layout order (msModelSlim's encounter order: blocks, then
  // the modules outside them), then the global tensors and anything else the checkpoint holds.
  std::vector<model::ExpectedTensor> order;
  std::vector<model::ExpectedTensor> globals;
  for (const auto& expected : model::expected_tensors(config))
    (expected.layer >= 0 ? order : globals).push_back(expected);
  order.insert(order.end(), globals.begin(), globals.end());
  std::set<std::string> covered;
  for (const auto& expected : order)
    covered.insert(expected.name);

  DataFreeConvertSummary summary;
  summary.tag = quant::tag_name(tag);
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
  for (const auto& expected : order) {
    if (expected.role == model::TensorRole::Bias && expected.layer >= 0) {
      progress.advance();
      continue;  // written with its linear
    }
    const bool linear_weight = expected.role == model::TensorRole::Linear && expected.layer >= 0;
    const std::string& module = expected.module;
    // Routers stay float unless a pattern could ask otherwise (data-free conversion has none).
    const bool keep_float = expected.spec != nullptr && !expected.spec->quantizable;
    if (!linear_weight || keep_float || name_matches_any(module, options.exclude)) {
      output->add_float(expected.name, read(expected.name));
      ++summary.float_tensors;
      if (linear_weight && checkpoint.contains(module + ".bias")) {
        output->add_float(module + ".bias", read(module + ".bias"));
        ++summary.float_tensors;
      }
      release_consumed();
      progress.advance();
      continue;
    }
    std::optional<at::Tensor> bias;
    if (checkpoint.contains(module + ".bias")) bias = read(module + ".bias");
    const at::Tensor weight = read(expected.name);
    output->add_linear(quant::deploy_linear(module, weight, bias, pair.act, pair.weight,
                                            std::nullopt, model_dtype));
    ++summary.quantized_linears;
    release_consumed();
    progress.advance();
  }
  const model::GlobalTensorNames& global = model::global_tensor_names();
  if (output->writes_tied_weights_twice() && config.tie_word_embeddings &&
      !checkpoint.contains(global.lm_head)) {
    output->add_float(global.lm_head, checkpoint.tensor(global.embedding));
    ++summary.float_tensors;
  }
  for (const auto& name : checkpoint.names()) {
    if (covered.count(name) || (name.size() > 5 && name.rfind(".bias") == name.size() - 5 &&
                                covered.count(name.substr(0, name.size() - 5) + ".weight"))) {
      continue;
    }
    spdlog::info("{}: not read by the {} architecture; copied unchanged", name,
                 config.architecture);
    output->add_float(name, read(name));
    ++summary.float_tensors;
    release_consumed();
  }
  progress.finish();
  summary.files = output->finish();
  return summary;
}

}  // namespace slim::pipeline
