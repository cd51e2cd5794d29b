// Quality is measured on what was written: every family (dense and MoE), every data-free scheme
// and format, evaluated from the saved directory through the weight sources, must score the same
// perplexity as the same fake-quantized weights held in memory; and a W8A8 static record saved
// through the library (activations quantized with the stored scale and offset by the engine
// kernel) as the fake-quantized activations and weights.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <map>
#include <set>

#include "slim/core/error.h"
#include "slim/eval/evaluate.h"
#include "slim/export/quantized_saver.h"
#include "slim/io/safetensors.h"
#include "slim/model/causal_lm.h"
#include "slim/model/family.h"
#include "slim/model/random_model.h"
#include "slim/model/roles.h"
#include "slim/model/tensor_layout.h"
#include "slim/pipeline/data_free_convert.h"
#include "slim/quant/deployed_forms.h"
#include "slim/quant/numerics.h"
#include "support/temp_dir.h"

namespace {

using namespace slim;
using slim::testing::TempDir;

struct SchemeCase {
  std::string scheme;  // slim convert --scheme
  std::string format;
  int64_t group_size;  // --group_size (0: the scheme's per-channel form)
  quant::DeployedForm form;
};

// Every scheme of the deployed-form table that data-free conversion writes (weight-only and
// dynamic-activation forms), into every format whose saver holds it.
std::vector<SchemeCase> scheme_cases(const TempDir& dir) {
  std::vector<SchemeCase> cases;
  for (const auto& spec : quant::deployed_form_table()) {
    if (std::string(spec.cli_name).empty() || spec.activations == quant::Activations::Static ||
        !spec.selected_by_schemes || spec.weight.dtype == quant::QDtype::Float)
      continue;  // not a min/max quantization of the weights
    const int64_t group = spec.default_group_size > 0 ? 32 : 0;  // divides every input dim
    const quant::DeployedForm form = quant::make_form(spec, group);
    for (const char* format : {"ascendv1", "compressed-tensors"}) {
      exporter::QuantizedSaveOptions probe;
      probe.save_path = dir.file(std::string("probe-") + format);
      try {
        exporter::make_quantized_saver(format, probe)->check(form);
      } catch (const Error&) {
        continue;  // the format cannot hold it (refused up front, tested with the savers)
      }
      cases.push_back({spec.cli_name, format, group, form});
    }
  }
  return cases;
}

std::string write_model(const TempDir& dir, const std::string& arch) {
  model::RandomModelOptions options;
  options.architecture = arch;
  options.vocab_size = 258;
  options.num_experts = 4;
  options.num_experts_per_tok = 2;
  options.moe_intermediate_size = 32;  // group and MX block sizes divide every input dim
  options.shared_expert_intermediate_size = 64;
  options.dtype = c10::kFloat;  // fake-quant and dequantization then share one arithmetic
  options.logit_scale = 8.0;
  write_random_model(options, dir.file("src"));
  return dir.file("src");
}

std::vector<std::vector<int64_t>> windows() {
  at::manual_seed(3);
  const at::Tensor ids = at::randint(0, 258, {3, 24}, at::kLong);
  std::vector<std::vector<int64_t>> result;
  for (int64_t i = 0; i < ids.size(0); ++i) {
    const at::Tensor row = ids[i].contiguous();
    result.emplace_back(row.data_ptr<int64_t>(), row.data_ptr<int64_t>() + row.numel());
  }
  return result;
}

std::map<std::string, at::Tensor> load_all(const std::string& path) {
  const auto checkpoint = io::SafetensorsCheckpoint::open(path);
  std::map<std::string, at::Tensor> tensors;
  for (const auto& name : checkpoint.names())
    tensors[name] = checkpoint.tensor(name).clone();
  return tensors;
}

double relative(double a, double b) {
  return std::abs(a - b) / std::abs(b);
}

// Forms with dynamic activations also quantize them at run time (per token, MX blocks): the
// in-memory model does the same in fake quantization, with the numerics kernels.
struct FakeQuantDynamicInput : model::LinearHook {
  quant::QScheme act;
  explicit FakeQuantDynamicInput(quant::QScheme a) : act(a) {}
  at::Tensor transform_input(const model::Linear& linear, const at::Tensor& x) override {
    // Routers stay float in the saved outputs.
    if (linear.role() == model::roles::kRouter || linear.role() == model::roles::kSharedRouter)
      return x;
    if (quant::is_mx(act.dtype)) return quant::mx_fake_quantize(linear.name(), x, act.dtype);
    const at::Tensor rows = x.reshape({-1, x.size(-1)}).to(at::kFloat);
    const auto params = quant::calculate_qparam(linear.name(), std::get<0>(rows.min(-1, true)),
                                                std::get<0>(rows.max(-1, true)), act);
    return quant::fake_quantize(linear.name(), rows, params).view(x.sizes()).to(x.scalar_type());
  }
};

// Perplexity with `hook` on every linear of every layer (none: plain).
double perplexity_with(const model::CausalLM& model, const std::vector<std::vector<int64_t>>& all,
                       const std::shared_ptr<model::LinearHook>& hook) {
  if (!hook) return eval::perplexity(model, all).perplexity;
  const auto& config = model.config();
  double nll = 0;
  int64_t count = 0;
  for (const auto& window : all) {
    const int64_t seq = static_cast<int64_t>(window.size());
    auto context = model.make_context(1, seq);
    at::Tensor hidden = model.embed(at::tensor(window).unsqueeze(0));
    for (int64_t k = 0; k < config.num_hidden_layers; ++k) {
      model::DecoderLayer layer = model.load_layer(k);
      for (auto* linear : layer.linears())
        linear->add_hook(hook);
      hidden = model.run_layer(layer, hidden, context);
    }
    const at::Tensor logp = at::log_softmax(model.head(hidden).to(at::kDouble), -1)[0];
    for (int64_t t = 0; t + 1 < seq; ++t, ++count)
      nll -= logp[t][window[t + 1]].item<double>();
  }
  return std::exp(nll / count);
}

TEST(SavedOutputs, DataFreeOutputsScoreAsTheirFakeQuantizedWeights) {
  const auto all = windows();
  for (const model::FamilySpec* family : model::registered_families()) {
    TempDir dir;
    const std::string source = write_model(dir, family->traits.name);
    const auto float_model = model::CausalLM::open(source);
    const double float_ppl = eval::perplexity(*float_model, all).perplexity;
    for (const SchemeCase& c : scheme_cases(dir)) {
      SCOPED_TRACE(std::string(family->traits.name) + " " + c.scheme + " " + c.format);
      const std::string out = dir.file(std::string(c.scheme) + "-" + c.format);
      pipeline::DataFreeConvertOptions options;
      options.model_path = source;
      options.save_path = out;
      options.format = c.format;
      options.scheme = c.scheme;
      options.group_size = c.group_size;
      // deploy_linear and fake_quantize_weight below use their default, msModelSlim's numerics.
      options.numerics = quant::Numerics::MsModelSlim;
      pipeline::data_free_convert(options);

      auto tensors = load_all(source);
      const auto config = float_model->config();
      for (const auto& expected : model::expected_tensors(config)) {
        if (expected.role != model::TensorRole::Linear || !expected.spec->quantizable) continue;
        // The fake-quantized weight, held exactly: (codes - offset) * scale in fp64 (an int8
        // code times an fp32 scale needs up to 32 bits; its fp32 rounding is what
        // fake_quantize_weight returns, checked equal here).
        const at::Tensor exact = quant::dequantize_weight(
            quant::deploy_linear(expected.module, tensors[expected.name], std::nullopt, c.form.act,
                                 c.form.weight, std::nullopt, at::kFloat),
            at::kDouble);
        ASSERT_TRUE(at::equal(
            exact.to(at::kFloat),
            quant::fake_quantize_weight(expected.name, tensors[expected.name], c.form.weight)))
            << expected.name;
        tensors[expected.name] = exact;
      }
      // fp64 compute on both sides: the engine kernel's products are exact in fp64 and the
      // reference's then agree with them to ~1e-16, so the next layer's activation quantizers
      // round the same values the same way (in fp32 a 1e-7 difference flips codes at near-ties
      // and the two runs drift apart by 1e-4 in perplexity, which would hide real errors).
      model::RuntimeOptions fp64;
      fp64.compute_dtype = at::kDouble;
      const auto in_memory = model::CausalLM::from_tensors(config, tensors, fp64);
      const auto saved = model::CausalLM::open(out, fp64);
      std::shared_ptr<model::LinearHook> activations;
      if (!c.form.act.is_float()) activations = std::make_shared<FakeQuantDynamicInput>(c.form.act);
      const double expected_ppl = perplexity_with(*in_memory, all, activations);
      const double saved_ppl = eval::perplexity(*saved, all).perplexity;
      EXPECT_LT(relative(saved_ppl, expected_ppl), 1e-6)
          << "saved " << saved_ppl << " in memory " << expected_ppl;
      // It really is quantized: the float model scores differently.
      EXPECT_GT(relative(saved_ppl, float_ppl), 1e-6) << saved_ppl << " vs float " << float_ppl;
    }
  }
}

// Fake-quantizes every linear's input with the record's static per-tensor parameters.
struct FakeQuantInput : model::LinearHook {
  std::map<std::string, quant::QParams> params;
  at::Tensor transform_input(const model::Linear& linear, const at::Tensor& x) override {
    return quant::fake_quantize(linear.name(), x, params.at(linear.name()));
  }
};

// Records each linear's input range over the calibration windows (what an observer would see).
struct Range : model::LinearHook {
  std::map<std::string, std::pair<at::Tensor, at::Tensor>> minmax;
  void observe(const model::Linear& linear, const at::Tensor& x, const at::Tensor&) override {
    auto& [low, high] = minmax[linear.name()];
    low = low.defined() ? at::minimum(low, x.min()) : x.min();
    high = high.defined() ? at::maximum(high, x.max()) : x.max();
  }
};

TEST(SavedOutputs, W8A8StaticRecordsRunAsTheirFakeQuantization) {
  for (const char* arch : {"LlamaForCausalLM", "Qwen3MoeForCausalLM"}) {
    SCOPED_TRACE(arch);
    TempDir dir;
    const std::string source = write_model(dir, arch);
    const auto float_model = model::CausalLM::open(source);
    const auto config = float_model->config();
    const auto all = windows();
    // Calibrate: per-tensor input ranges of every linear on the float model.
    auto range = std::make_shared<Range>();
    {
      auto context = float_model->make_context(1, 24);
      for (const auto& window : all) {
        at::Tensor hidden = float_model->embed(at::tensor(window).unsqueeze(0));
        for (int64_t k = 0; k < config.num_hidden_layers; ++k) {
          model::DecoderLayer layer = float_model->load_layer(k);
          for (auto* linear : layer.linears())
            linear->add_hook(range);
          hidden = float_model->run_layer(layer, hidden, context);
        }
      }
    }
    const quant::QScheme act{quant::QDtype::Int8, quant::QScope::PerTensor, false, 0};
    const quant::QScheme weight{quant::QDtype::Int8, quant::QScope::PerChannel, true, 0};
    exporter::QuantizedSaveOptions save;
    save.save_path = dir.file("w8a8");
    save.model_path = source;
    auto saver = exporter::make_quantized_saver("ascendv1", save);
    auto fake = std::make_shared<FakeQuantInput>();
    auto tensors = load_all(source);
    std::set<std::string> written;
    for (const auto& expected : model::expected_tensors(config)) {
      if (expected.role != model::TensorRole::Linear) continue;
      const auto found = range->minmax.find(expected.module);
      if (found == range->minmax.end()) continue;  // an expert no token chose stays float
      const quant::QParams params = quant::calculate_qparam(
          expected.module, found->second.first.view({1}), found->second.second.view({1}), act);
      fake->params[expected.module] = params;
      std::optional<at::Tensor> bias;
      if (tensors.count(expected.module + ".bias")) bias = tensors[expected.module + ".bias"];
      saver->add_linear(quant::deploy_linear(expected.module, tensors[expected.name], bias, act,
                                             weight, params, at::kFloat));
      tensors[expected.name] =
          quant::fake_quantize_weight(expected.name, tensors[expected.name], weight);
      written.insert(expected.name);
      if (bias) written.insert(expected.module + ".bias");
    }
    ASSERT_FALSE(fake->params.empty());
    for (const auto& [name, tensor] : load_all(source))
      if (!written.count(name)) saver->add_float(name, tensor);
    saver->finish();

    const auto saved = model::CausalLM::open(dir.file("w8a8"));
    const auto in_memory = model::CausalLM::from_tensors(config, tensors);
    // The in-memory model with activation fake-quant hooks on the quantized linears.
    struct Selective : model::LinearHook {
      std::shared_ptr<FakeQuantInput> inner;
      at::Tensor transform_input(const model::Linear& linear, const at::Tensor& x) override {
        return inner->params.count(linear.name()) ? inner->transform_input(linear, x) : x;
      }
    };
    auto selective = std::make_shared<Selective>();
    selective->inner = fake;
    const double expected_ppl = perplexity_with(*in_memory, all, selective);
    const double saved_ppl = eval::perplexity(*saved, all).perplexity;
    EXPECT_LT(relative(saved_ppl, expected_ppl), 1e-6)
        << "saved " << saved_ppl << " fake-quant " << expected_ppl;
  }
}

}  // namespace
