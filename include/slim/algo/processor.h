// Processors: the algorithms of a quantization pipeline (spec msmodelslim-v1.md §3.3), one per
// YAML `type`, one file each under src/algo/, created through the registry below.
//
// A runner (slim/pipeline/quantize.h) drives every processor over the decoder layers, one layer
// at a time and in config order:
//
//   pre_run(run)                      once, before the first layer and before the calibration
//                                     samples are embedded (run.globals may be changed here)
//   for each layer:
//     for each processor p:
//       p.preprocess(unit)            install hooks, transform weights
//       calibration forward           every sample through the layer (skipped when data-free,
//                                     or when p took its statistics from unit.input_ranges),
//                                     p's hooks observing
//       p.postprocess(unit)           compute parameters, deploy quantized linears
//     forward as deployed             the layer's outputs become the next layer's inputs
//   post_run(run)                     once, after the last layer (warnings, reports)
//
// So processor j on layer k sees layer k as processors 1..j-1 left it, and layer k+1 is
// calibrated on what the deployed layer k produces. A processor never knows the output format:
// it leaves quantized linears as quant::DeployedLinear records in the unit, float weights in the
// layer; the runner hands both to the saver.
#pragma once

#include <ATen/core/Tensor.h>

#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "slim/io/model_config.h"
#include "slim/model/decoder.h"
#include "slim/pipeline/quant_config.h"
#include "slim/quant/numerics.h"
#include "slim/quant/observer.h"
#include "slim/quant/scheme.h"

namespace slim::algo {

// The tensors outside the decoder layers: the token embedding, the final norm and the lm_head
// (Hugging Face names, model::global_tensor_names()). A processor that changes the basis of the
// whole residual stream (quarot) transforms them in pre_run; the runner then embeds the
// calibration samples with the changed embedding and writes the changed tensors, so every layer
// is calibrated on the model that is saved. Values are fp32; set() rounds them to the stored
// dtype at once, as they will be saved.
class GlobalTensors {
 public:
  // `read(name)`: the checkpoint tensor; `stored_dtype(name)`: its dtype. `tied`: the lm_head is
  // the embedding (config.json tie_word_embeddings).
  GlobalTensors(std::function<at::Tensor(const std::string&)> read,
                std::function<at::ScalarType(const std::string&)> stored_dtype, bool tied);

  // The tensor as it is now (fp32): the checkpoint's, or what a processor set. For a tied model
  // the lm_head is the embedding until a processor sets it apart.
  at::Tensor get(const std::string& name) const;
  // Replaces it (same shape; finite). Setting the lm_head of a tied model unties it: the output
  // then holds its own lm_head and says tie_word_embeddings false.
  void set(const std::string& name, const at::Tensor& value);
  // Replaces a 2-D tensor (embedding, lm_head) by `rows` applied to blocks of its rows (fp32
  // [r, cols] -> [r, cols]), as set() does, holding one block in fp32 at a time: the temporaries
  // stay bounded whatever the vocabulary.
  void transform_rows(const std::string& name,
                      const std::function<at::Tensor(const at::Tensor&)>& rows);
  // What processors changed, by name, in the stored dtype (the lm_head of a tied model included
  // once untied).
  const std::map<std::string, at::Tensor>& changed() const { return changed_; }
  bool tied() const { return tied_; }
  bool untied() const { return untied_; }

  // QuaRot's global rotation (fp32 [n, n]) for the output's optional/quarot.safetensors
  // (`export_extra_info`); undefined when none.
  void set_global_rotation(const at::Tensor& rotation) { global_rotation_ = rotation; }
  const at::Tensor& global_rotation() const { return global_rotation_; }

 private:
  std::string stored_name(const std::string& name) const;
  // The tensor as it is now, in its stored dtype (CPU).
  at::Tensor current(const std::string& name) const;
  void store(const std::string& name, at::Tensor value);
  std::function<at::Tensor(const std::string&)> read_;
  std::function<at::ScalarType(const std::string&)> stored_dtype_;
  bool tied_ = false;
  bool untied_ = false;
  std::map<std::string, at::Tensor> changed_;
  at::Tensor global_rotation_;
};

// What a run shares with its processors.
struct RunContext {
  const io::ModelConfig* config = nullptr;
  quant::Numerics numerics = quant::Numerics::Precise;
  // The checkpoint dtype (config.json torch_dtype; bf16 when absent): deployed records' dtype.
  at::ScalarType model_dtype = at::kBFloat16;
  c10::Device device = c10::Device(c10::kCPU);
  // The stored dtype of a float tensor of the checkpoint (weights are computed in fp32 in the
  // layer; msModelSlim numerics quantize them in this dtype).
  std::function<at::ScalarType(const std::string& tensor)> stored_dtype;
  // Warnings a processor wants in the run summary (patterns that matched nothing, uncalibrated
  // experts); also logged when added.
  std::vector<std::string>* warnings = nullptr;
  void warn(const std::string& message) const;
  // The embedding, final norm and lm_head, for processors that transform them in pre_run; null
  // where a caller runs single layers (tests).
  GlobalTensors* globals = nullptr;
};

// One decoder layer being processed.
struct LayerUnit {
  model::DecoderLayer* layer = nullptr;
  // The calibration inputs of the layer, one [1, seq, hidden] tensor per sample (none on a
  // data-free pass), read on demand: they may live on disk.
  size_t samples = 0;
  std::function<at::Tensor(size_t sample)> input;
  // Quantized linears of this layer, by module name, as processors deployed them: the saver
  // writes these; every other linear of the layer is written from its float weight.
  std::map<std::string, quant::DeployedLinear>* deployed = nullptr;
  // Per-channel min/max ([C], fp32) of linears' inputs, by module name, as the layer computes
  // them now: left by a processor that observed them in its own forward and knows exactly how its
  // transform changed them (smoothing divides a target's input channels by s), so that the next
  // processor can calibrate without a forward of its own. The runner clears them before each
  // processor's postprocess: a processor that changes the layer leaves either correct ranges or
  // none.
  std::map<std::string, quant::MinMax> input_ranges;
};

// What `slim quant --dry_run` prints for one linear.
struct LinearPlan {
  std::string module;                       // the module path of the linear
  std::vector<std::string> processors;      // types that touch it, in order
  std::optional<quant::DeployedForm> form;  // the form it is saved in; none: FLOAT
};

class Processor {
 public:
  virtual ~Processor() = default;
  virtual std::string type() const = 0;
  // True: needs no calibration forward (the runner runs none for it).
  virtual bool is_data_free() const = 0;
  // Whether this layer's calibration forward must run for it, asked after preprocess: false
  // when it took what it needs from unit.input_ranges.
  virtual bool needs_forward(const LayerUnit& unit) const { return !is_data_free(); }

  virtual void pre_run(const RunContext& run) {}
  virtual void preprocess(const RunContext& run, LayerUnit& unit) {}
  virtual void postprocess(const RunContext& run, LayerUnit& unit) {}
  virtual void post_run(const RunContext& run) {}

  // Adds itself to `plan` when it would touch the linear (and sets the form when it quantizes
  // it), without running anything.
  virtual void describe(LinearPlan& plan) const = 0;
  // The deployed forms this processor may produce (checked against the saver before any work).
  virtual std::vector<quant::DeployedForm> forms() const = 0;
};

// Creates the processor of `config.type`, validating its keys (unknown keys, bad values: errors
// naming config.path). A type Slim does not implement is refused naming it and listing
// processor_types().
std::unique_ptr<Processor> make_processor(const pipeline::ProcessorConfig& config);
// The implemented types, in registry order.
std::vector<std::string> processor_types();

}  // namespace slim::algo
