#include "slim/pipeline/quantize.h"

#include <ATen/ATen.h>
#include <spdlog/spdlog.h>

#include <unistd.h>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <map>

#include "pipeline/activation_store.h"
#include "pipeline/non_layer_tensors.h"
#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/heap.h"
#include "slim/core/progress.h"
#include "slim/core/text.h"
#include "slim/export/quantized_saver.h"
#include "slim/io/dataset.h"
#include "slim/io/safetensors.h"
#include "slim/io/tokenizer/tokenizer.h"
#include "slim/model/causal_lm.h"
#include "slim/model/family.h"
#include "slim/model/tensor_layout.h"
#include "slim/quant/deployed_forms.h"

namespace slim::pipeline {

// The bundled calibration set (data/calib/sotu_calib.jsonl, compiled in by CMake).
extern const char* const kBundledCalibJsonl;

namespace {

namespace fs = std::filesystem;

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Adds the seconds a scope takes to `total`.
class PhaseTimer {
 public:
  explicit PhaseTimer(double& total) : total_(total), start_(std::chrono::steady_clock::now()) {}
  ~PhaseTimer() { total_ += seconds_since(start_); }

 private:
  double& total_;
  std::chrono::steady_clock::time_point start_;
};

// msModelSlim's built-in calibration sets (its lab_calib/), which Slim does not ship.
constexpr const char* kReferenceCalibSets[] = {
    "mix_calib.jsonl",   "boolq.jsonl",    "teacher_qualification.jsonl",
    "humaneval_x.jsonl", "qwen3_cot.json", "ceval.jsonl",
    "gsm8k.jsonl"};

struct SaveTarget {
  std::string format;
  uint64_t part_file_bytes;
};

SaveTarget save_target(const QuantConfig& config) {
  if (config.save.empty()) {
    spdlog::info("{}: spec.save is empty; writing the Ascend V1 format (ascendv1_saver)",
                 config.origin);
    return {"ascendv1", uint64_t{4} << 30};
  }
  SLIM_CHECK(config.save.size() == 1, config.origin, ": spec.save has ", config.save.size(),
             " entries; Slim writes one format per run (one save entry)");
  const SaveConfig& save = config.save[0];
  if (save.type == "ascendv1_saver") return {"ascendv1", save.part_file_bytes};
  if (save.type == "compressed_tensors") return {"compressed-tensors", save.part_file_bytes};
  SLIM_FAIL(save.path, ".type: expected ascendv1_saver or compressed_tensors, found ",
            quote(save.type));
}

std::string runner_of(const QuantConfig& config) {
  const std::string& runner = config.runner;
  if (runner == "auto" || runner == "layer_wise") return "layer_wise";
  if (runner == "model_wise") return "model_wise";
  if (runner == "dp_layer_wise") {
    // Data parallelism splits the samples over devices and all-reduces the observers; over the
    // one device Slim runs on (--device takes one) that is the layer-wise computation.
    spdlog::info(
        "{}: spec.runner dp_layer_wise on one device: running layer_wise (the same "
        "computation without the other ranks)",
        config.origin);
    return "layer_wise";
  }
  SLIM_FAIL(config.origin,
            ": spec.runner: expected auto, layer_wise, model_wise or "
            "dp_layer_wise, found ",
            quote(runner));
}

std::string processor_types(const std::vector<ProcessorConfig>& process) {
  std::string types;
  for (const auto& processor : process)
    types += (types.empty() ? "" : ", ") + processor.type;
  return types;
}

// msModelSlim runs each spec.prior stage with a fresh runner on a freshly loaded model, so a stage
// reaches the main one only through the shared context, which only adapt_rotation's first stage
// fills. Slim builds each stage's processors (an unknown or unimplemented type is refused as in
// spec.process) and, as none of them leaves context behind, skips the stage: the output is the
// one msModelSlim writes.
void check_prior_stages(const QuantConfig& config) {
  for (size_t i = 0; i < config.prior.size(); ++i) {
    for (const auto& processor : config.prior[i].process)
      algo::make_processor(processor);
    spdlog::warn(
        "{}: spec.prior[{}] ({}) skipped: a prior stage reaches the main stage only "
        "through context that none of its processors leaves (msModelSlim reloads the "
        "model for every stage)",
        config.origin, i, processor_types(config.prior[i].process));
  }
}

std::vector<std::unique_ptr<algo::Processor>> make_processors(const QuantConfig& config) {
  check_prior_stages(config);
  SLIM_CHECK(!config.process.empty(), config.origin,
             ": the config names no processors (spec.process is empty); nothing would be "
             "quantized");
  std::vector<std::unique_ptr<algo::Processor>> processors;
  for (const auto& processor : config.process)
    processors.push_back(algo::make_processor(processor));
  return processors;
}

bool inside(const fs::path& path, const fs::path& directory) {
  const fs::path child = fs::weakly_canonical(path);
  const fs::path parent = fs::weakly_canonical(directory);
  auto c = child.begin();
  for (auto p = parent.begin(); p != parent.end(); ++p, ++c) {
    if (p->empty()) continue;  // trailing separator
    if (c == child.end() || *c != *p) return false;
  }
  return true;
}

c10::Device parse_device(const std::string& text) {
  SLIM_CHECK(text.find(',') == std::string::npos, "--device ", quote(text),
             ": several device indexes (msModelSlim's multi-device dp_layer_wise) are not "
             "supported yet; pass one device, e.g. cpu or cuda:0");
  try {
    c10::Device device(text);
    SLIM_CHECK(device.is_cpu() || device.is_cuda(), "only cpu and cuda are supported");
    return device;
  } catch (const Error& error) {
    SLIM_FAIL("--device: ", quote(text), ": ", error.what());
  } catch (const std::exception& error) {
    SLIM_FAIL("--device: expected cpu, cuda or cuda:<index>, found ", quote(text));
  }
}

// The calibration samples as the layers see them: each one's hidden state (in the store, maybe
// on disk) and its forward context (positions, rotary tables).
struct Samples {
  std::unique_ptr<ActivationStore> hidden;
  std::vector<model::ForwardContext> contexts;
  size_t size() const { return contexts.size(); }
};

// A non-finite layer output is located to the first module that produced it, by running the
// sample again with a finiteness check on every linear's input and output.
class FiniteCheck : public model::LinearHook {
 public:
  void observe(const model::Linear& linear, const at::Tensor& input,
               const at::Tensor& output) override {
    if (!found.empty()) return;
    if (!at::isfinite(input).all().item<bool>()) {
      found = "the input of " + linear.name();
    } else if (!at::isfinite(output).all().item<bool>()) {
      found = "the output of " + linear.name();
    }
  }
  std::string found;
};

// Sample i's output of `layer` is not finite: names the first linear whose input or output is not,
// by running the sample again with a check on every linear.
[[noreturn]] void fail_non_finite(const model::CausalLM& lm, model::DecoderLayer& layer,
                                  const at::Tensor& input, model::ForwardContext& context, size_t i,
                                  const char* pass) {
  auto check = std::make_shared<FiniteCheck>();
  std::vector<model::HookHandle> handles;
  for (model::Linear* linear : layer.linears())
    handles.push_back(linear->add_hook(check));
  lm.run_layer(layer, input, context);
  for (size_t k = 0; k < handles.size(); ++k)
    layer.remove_hook(handles[k]);
  SLIM_FAIL("calibration sample ", i, ", decoder layer ", layer.index, " (", pass, "): NaN or Inf",
            check->found.empty() ? std::string(" in the layer's output (norms or attention)")
                                 : " in " + check->found,
            "; the checkpoint or the calibration text make the model overflow");
}

// Runs every sample through `layer`; with `advance`, each output replaces its sample's state
// at once (the pass that makes the next layer's inputs: only one copy of the states is held).
void forward_samples(const model::CausalLM& lm, model::DecoderLayer& layer, Samples& samples,
                     const char* pass, bool advance) {
  for (size_t i = 0; i < samples.size(); ++i) {
    const at::Tensor input = samples.hidden->get(i);
    at::Tensor output;
    try {
      output = lm.run_layer(layer, input, samples.contexts[i]);
    } catch (const Error& error) {
      SLIM_FAIL("calibration sample ", i, ", decoder layer ", layer.index, " (", pass,
                "): ", error.what());
    }
    if (!at::isfinite(output).all().item<bool>()) {
      fail_non_finite(lm, layer, input, samples.contexts[i], i, pass);
    }
    if (advance) samples.hidden->replace(i, output);
  }
}

// MemAvailable of /proc/meminfo in bytes; 0 when unknown.
uint64_t available_memory() {
  std::ifstream meminfo("/proc/meminfo");
  std::string key;
  uint64_t kb = 0;
  std::string unit;
  while (meminfo >> key >> kb >> unit) {
    if (key == "MemAvailable:") return kb * 1024;
  }
  return 0;
}

// Where the calibration states live: memory, unless asked to offload, or (auto) unless they
// would take more than half of the memory available now.
std::string offload_directory(const QuantizeOptions& options, uint64_t bytes) {
  const std::string& mode = options.offload_activations;
  if (mode == "no") return "";
  if (mode == "auto") {
    const uint64_t available = available_memory();
    if (available == 0 || bytes <= available / 2) return "";
  }
  fs::path target = fs::absolute(options.save_path);
  if (target.filename().empty()) target = target.parent_path();  // "out/x/"
  const std::string name = target.filename().string();
  const fs::path dir =
      options.offload_dir.empty() ? target.parent_path() : fs::path(options.offload_dir);
  return (dir / (name + ".activations-" + std::to_string(::getpid()))).string();
}

Samples tokenize_samples(const QuantizeOptions& options, const QuantConfig& config,
                         const model::CausalLM& lm, QuantizeSummary& summary) {
  const std::string dataset = options.dataset.value_or(config.dataset);
  std::vector<std::string> texts = load_calibration_texts(dataset);
  if (options.calib_samples > 0) {
    SLIM_CHECK(static_cast<int64_t>(texts.size()) >= options.calib_samples, "dataset ",
               quote(dataset), " has ", texts.size(), " samples; --calib_samples asked for ",
               options.calib_samples);
    texts.resize(options.calib_samples);
  }
  SLIM_CHECK(!texts.empty(), "dataset ", quote(dataset), " has no calibration samples");
  const auto tokenizer = io::load_tokenizer(options.model_path);
  std::vector<std::vector<int64_t>> ids;
  // One sample at a time (batch 1, special tokens added, no padding), as msModelSlim feeds them.
  for (size_t i = 0; i < texts.size(); ++i) {
    const auto encoded = tokenizer->encode(texts[i], true);
    SLIM_CHECK(!encoded.empty(), "dataset ", quote(dataset), ": sample ", i, " has no tokens");
    std::vector<int64_t> wide(encoded.begin(), encoded.end());
    const int64_t limit = lm.config().max_position_embeddings;
    if (limit > 0 && static_cast<int64_t>(wide.size()) > limit) {
      spdlog::warn("calibration sample {}: {} tokens, truncated to the model's {} positions", i,
                   wide.size(), limit);
      wide.resize(limit);
    }
    summary.tokens += static_cast<int64_t>(wide.size());
    ids.push_back(std::move(wide));
  }
  // The layers compute in fp32: one state of hidden_size floats per token.
  const uint64_t bytes =
      static_cast<uint64_t>(summary.tokens) * lm.config().hidden_size * sizeof(float);
  Samples samples;
  samples.hidden = std::make_unique<ActivationStore>(offload_directory(options, bytes));
  if (samples.hidden->offloaded()) {
    spdlog::info("calibration activations ({:.1f} MB) offloaded to {}", bytes / 1048576.0,
                 samples.hidden->directory());
  }
  summary.activation_bytes = bytes;
  summary.offloaded = samples.hidden->offloaded();
  for (const auto& sample_ids : ids) {
    const at::Tensor tokens =
        at::tensor(sample_ids, at::kLong).reshape({1, static_cast<int64_t>(sample_ids.size())});
    samples.hidden->append(lm.embed(tokens));
    samples.contexts.push_back(lm.make_context(1, tokens.size(1)));
  }
  summary.samples = static_cast<int64_t>(samples.size());
  return samples;
}

// The dtype a tensor of the output is stored in: the checkpoint's; a bias a transform added
// (asymmetric smoothing) takes its weight's.
at::ScalarType stored_dtype(const io::SafetensorsCheckpoint& checkpoint, const std::string& name) {
  if (!checkpoint.contains(name) && ends_with(name, ".bias")) {
    const std::string weight = name.substr(0, name.size() - 5) + ".weight";
    if (checkpoint.contains(weight)) return checkpoint.tensor(weight).scalar_type();
  }
  SLIM_CHECK(checkpoint.contains(name), "checkpoint: missing tensor ", name);
  return checkpoint.tensor(name).scalar_type();
}

// Writes layer k in checkpoint-layout order: deployed records, float linears (excluded, routers),
// norms (and a bias a transform gave one), each float tensor in its stored dtype.
void save_layer(const model::CausalLM& lm, const io::SafetensorsCheckpoint& checkpoint, int64_t k,
                model::DecoderLayer& layer, std::map<std::string, quant::DeployedLinear>& deployed,
                exporter::QuantizedModelSaver& output, QuantizeSummary& summary) {
  std::map<std::string, at::Tensor> floats;
  for (auto& [name, tensor] : layer.tensors())
    floats[name] = tensor;
  auto stored = [&](const std::string& name) {
    auto it = floats.find(name);
    SLIM_INTERNAL_ASSERT(it != floats.end(), "layer tensor ", name, " missing");
    return it->second.to(at::kCPU).to(stored_dtype(checkpoint, name)).contiguous();
  };
  for (const auto& expected : model::expected_layer_tensors(lm.config(), k)) {
    if (expected.role == model::TensorRole::Bias) continue;  // with its linear
    if (expected.role != model::TensorRole::Linear) {
      output.add_float(expected.name, stored(expected.name));
      const std::string bias = expected.module + ".bias";
      if (ends_with(expected.name, ".weight") && floats.count(bias))
        output.add_norm_bias(bias, stored(bias));
      continue;
    }
    if (auto it = deployed.find(expected.module); it != deployed.end()) {
      output.add_linear(it->second);
      ++summary.quantized_linears;
      continue;
    }
    std::optional<at::Tensor> bias;
    if (floats.count(expected.module + ".bias")) bias = stored(expected.module + ".bias");
    output.add_float_linear(expected.module, stored(expected.name), bias);
    ++summary.float_linears;
  }
}

at::Tensor read_global(const io::SafetensorsCheckpoint& checkpoint, const std::string& name) {
  SLIM_CHECK(checkpoint.contains(name), "checkpoint: missing tensor ", name);
  return checkpoint.tensor(name);
}

// Runs every processor's pre_run. One that changes the tensors outside the layers (a rotation of
// the residual stream) changes every layer's calibration inputs, so no processor that calibrates
// may come before it.
void pre_run_processors(const QuantConfig& config,
                        std::vector<std::unique_ptr<algo::Processor>>& processors,
                        const algo::RunContext& run) {
  const algo::Processor* calibrating = nullptr;
  for (auto& processor : processors) {
    const size_t before = run.globals->changed().size();
    processor->pre_run(run);
    if (run.globals->changed().size() != before && calibrating) {
      SLIM_FAIL(config.origin, ": processor ", processor->type(),
                " transforms the embedding and lm_head (the basis of every layer's inputs), so it "
                "must come before ",
                calibrating->type(),
                ", which calibrates on those inputs; move it up in "
                "spec.process");
    }
    if (!calibrating && !processor->is_data_free()) calibrating = processor.get();
  }
}

// The model as the processors left its non-layer tensors.
std::unique_ptr<model::CausalLM> transformed_model(const std::string& model_path,
                                                   const model::RuntimeOptions& runtime,
                                                   const algo::GlobalTensors& globals) {
  auto source = model::open_weight_source(model_path);
  io::ModelConfig config = source->config();
  if (globals.untied()) config.tie_word_embeddings = false;
  return model::CausalLM::from_source(
      model::overlay_weight_source(std::move(source), std::move(config), globals.changed()),
      runtime);
}

}  // namespace

std::vector<std::string> load_calibration_texts(const std::string& dataset) {
  if (fs::exists(dataset)) return io::load_text_dataset(dataset, io::DatasetUse::Calibration);
  for (const char* name : kReferenceCalibSets) {
    if (fs::path(dataset).filename() == name) {
      spdlog::warn(
          "calibration set {}: msModelSlim's built-in set, which Slim does not ship; using "
          "Slim's bundled public-domain set (128 State of the Union samples of ~512 tokens, "
          "data/calib/sotu_calib.jsonl); pass --dataset to choose another",
          dataset);
      return io::parse_text_dataset(kBundledCalibJsonl, "bundled/sotu_calib.jsonl",
                                    io::DatasetUse::Calibration);
    }
  }
  SLIM_FAIL("calibration dataset ", quote(dataset),
            ": no such file (a .jsonl, .json or .txt file; or mix_calib.jsonl for the bundled "
            "set)");
}

std::vector<algo::LinearPlan> plan_quantization(const std::string& model_path,
                                                const QuantConfig& config) {
  const io::ModelConfig model_config = io::load_model_config(model_path);
  const auto processors = make_processors(config);
  std::vector<algo::LinearPlan> plans;
  for (int64_t k = 0; k < model_config.num_hidden_layers; ++k) {
    for (const auto& module : model::layer_modules(model_config, k)) {
      if (!module.is_linear()) continue;
      algo::LinearPlan plan;
      plan.module = module.name;
      for (const auto& processor : processors)
        processor->describe(plan);
      plans.push_back(std::move(plan));
    }
  }
  return plans;
}

QuantizeSummary quantize_model(const QuantizeOptions& options) {
  const auto start = std::chrono::steady_clock::now();
  const QuantConfig& config = options.config;
  QuantizeSummary summary;
  summary.runner = runner_of(config);
  summary.numerics = options.numerics.value_or(
      config.numerics ? quant::parse_numerics(*config.numerics) : quant::Numerics::Precise);
  const SaveTarget target = save_target(config);
  summary.format = target.format;
  auto processors = make_processors(config);
  bool data_free = true;
  for (const auto& processor : processors)
    data_free = data_free && processor->is_data_free();

  SLIM_CHECK(fs::is_directory(options.model_path), "--model_path ", quote(options.model_path),
             ": not a directory");
  SLIM_CHECK(options.offload_activations == "auto" || options.offload_activations == "yes" ||
                 options.offload_activations == "no",
             "--offload_activations: expected auto, yes or no, found ",
             quote(options.offload_activations));
  SLIM_CHECK(!inside(options.save_path, options.model_path), "--save_path ",
             quote(options.save_path), " is inside --model_path ", quote(options.model_path),
             "; choose a directory outside the model");
  model::RuntimeOptions runtime;
  runtime.device = parse_device(options.device);
  double open_s = 0;
  std::unique_ptr<model::CausalLM> lm;
  {
    PhaseTimer timer(open_s);
    lm = model::CausalLM::open(options.model_path, runtime);
  }
  SLIM_CHECK(lm->source().format() == "huggingface", "--model_path ", quote(options.model_path),
             ": ", lm->source().describe(),
             " is not a float Hugging Face checkpoint; quantize the original model");
  // A copy: the model is reopened when a processor transforms its non-layer tensors.
  const io::ModelConfig model_config = lm->config();
  const auto checkpoint = io::SafetensorsCheckpoint::open(options.model_path);

  exporter::QuantizedSaveOptions save;
  save.save_path = options.save_path;
  save.overwrite = options.overwrite;
  save.shard_bytes = target.part_file_bytes;
  save.model_path = options.model_path;
  save.extra_files = options.extra_files;
  const auto output = exporter::make_quantized_saver(target.format, save);
  for (const auto& processor : processors) {
    for (const auto& form : processor->forms()) {
      try {
        output->check(form);
      } catch (const Error& error) {
        SLIM_FAIL(config.origin, ": processor ", processor->type(), " deploys ", form.to_string(),
                  ", which the ", target.format, " format cannot hold: ", error.what());
      }
    }
  }

  std::vector<std::string> warnings;
  algo::RunContext run;
  run.config = &model_config;
  run.numerics = summary.numerics;
  run.model_dtype = io::parse_torch_dtype_name(model_config.dtype).value_or(at::kBFloat16);
  run.device = runtime.device;
  run.stored_dtype = [&checkpoint](const std::string& name) {
    return stored_dtype(checkpoint, name);
  };
  run.warnings = &warnings;
  algo::GlobalTensors globals(
      [&checkpoint](const std::string& name) { return read_global(checkpoint, name); },
      run.stored_dtype, model_config.tie_word_embeddings);
  run.globals = &globals;

  {
    PhaseTimer timer(summary.phases.parameters_s);
    pre_run_processors(config, processors, run);
  }
  if (!globals.changed().empty()) {
    // The layers are calibrated on what is saved: the runtime reads the changed tensors.
    PhaseTimer timer(open_s);
    lm = transformed_model(options.model_path, runtime, globals);
  }
  Samples samples;
  if (!data_free) {
    PhaseTimer timer(summary.phases.calibration_s);
    samples = tokenize_samples(options, config, *lm, summary);
    spdlog::info("calibration: {} samples, {} tokens", summary.samples, summary.tokens);
  }
  if (summary.runner == "model_wise") {
    PhaseTimer timer(summary.phases.load_s);
    lm->keep_layers_resident();
  }
  summary.phases.load_s += open_s;

  std::optional<CalibrationHeapScope> calibration_heap;
  if (samples.size() > 0) calibration_heap.emplace();
  const int64_t layers = model_config.num_hidden_layers;
  Progress progress("quantize", layers, "layers");
  for (int64_t k = 0; k < layers; ++k) {
    release_free_memory();  // the previous layer's blocks, or the tokenizer's
    model::DecoderLayer layer;
    {
      PhaseTimer timer(summary.phases.load_s);
      layer = lm->load_layer(k);
    }
    std::map<std::string, quant::DeployedLinear> deployed;
    algo::LayerUnit unit;
    unit.layer = &layer;
    unit.deployed = &deployed;
    unit.samples = samples.size();
    unit.input = [&samples](size_t i) { return samples.hidden->get(i); };
    for (auto& processor : processors) {
      spdlog::debug("layer {}/{}: {}", k + 1, layers, processor->type());
      progress.set_detail(str("layer ", k + 1, ": ", processor->type(),
                              processor->is_data_free()
                                  ? std::string()
                                  : str(", calibration forward of ", samples.size(), " samples")));
      {
        PhaseTimer timer(summary.phases.parameters_s);
        processor->preprocess(run, unit);
      }
      if (processor->needs_forward(unit) && samples.size() > 0) {
        PhaseTimer timer(summary.phases.calibration_s);
        forward_samples(*lm, layer, samples, "calibration forward", false);
      }
      PhaseTimer timer(summary.phases.parameters_s);
      unit.input_ranges.clear();
      processor->postprocess(run, unit);
    }
    layer.clear_hooks();
    if (samples.size() > 0 && k + 1 < layers) {
      progress.set_detail(
          str("layer ", k + 1, ": deployed forward of ", samples.size(), " samples"));
      PhaseTimer timer(summary.phases.calibration_s);
      forward_samples(*lm, layer, samples, "deployed forward", true);
    }
    {
      PhaseTimer timer(summary.phases.save_s);
      save_layer(*lm, checkpoint, k, layer, deployed, *output, summary);
    }
    progress.advance();
  }
  progress.finish();
  for (auto& processor : processors)
    processor->post_run(run);
  {
    PhaseTimer timer(summary.phases.save_s);
    write_non_layer_tensors(checkpoint, model_config, *output,
                            {globals.changed(), globals.untied()});
    if (globals.global_rotation().defined()) output->add_global_rotation(globals.global_rotation());
    summary.files = output->finish();
  }
  summary.warnings = std::move(warnings);
  summary.total_s = seconds_since(start);
  return summary;
}

}  // namespace slim::pipeline
