// Calibrated quantization of a Hugging Face checkpoint (`slim quant`): the runners of spec
// msmodelslim-v1.md §3.4-§3.5 over the processors of a config (slim/algo/processor.h).
//
// layer_wise (the default, and what `auto` picks): layer k is materialized from the mapped
// checkpoint, the processors run on it (with calibration forwards of every sample where a
// processor needs data), it is forwarded as deployed to produce layer k+1's inputs, handed to the
// saver and freed: memory stays near one layer plus the calibration activations.
// model_wise: every layer is loaded first (msModelSlim's whole-model runner), then the same
// schedule runs.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "slim/algo/processor.h"
#include "slim/pipeline/quant_config.h"
#include "slim/quant/numerics.h"

namespace slim::pipeline {

struct QuantizeOptions {
  std::string model_path;
  std::string save_path;
  QuantConfig config;
  bool overwrite = false;
  std::string device = "cpu";               // "cpu" | "cuda" | "cuda:i"
  std::optional<std::string> dataset;       // --dataset: replaces spec.dataset
  int64_t calib_samples = 0;                // the first N samples; 0: all
  std::optional<quant::Numerics> numerics;  // --numerics: replaces spec.numerics
  // The calibration states between layers: "auto" keeps them in memory unless they would take
  // more than half of the available memory, "yes" always writes them to a scratch directory
  // (`offload_dir`, default beside save_path; removed at the end), "no" never.
  std::string offload_activations = "auto";
  std::string offload_dir;
  // Files written into the output beside the weights (the resolved best-practice YAML).
  std::vector<std::pair<std::string, std::string>> extra_files;
};

struct QuantizePhases {
  double load_s = 0;         // reading layers from the checkpoint
  double calibration_s = 0;  // tokenization, embedding and every layer forward
  double parameters_s = 0;   // processors' pre/postprocess (parameters, deployment)
  double save_s = 0;         // handing tensors to the saver and writing the output
};

struct QuantizeSummary {
  std::string runner;  // "layer_wise" | "model_wise"
  std::string format;  // "ascendv1" | "compressed-tensors"
  quant::Numerics numerics = quant::Numerics::Precise;
  int64_t samples = 0;
  int64_t tokens = 0;
  uint64_t activation_bytes = 0;  // the calibration states of one layer (fp32)
  bool offloaded = false;         // ... written to disk between passes
  int64_t quantized_linears = 0;
  int64_t float_linears = 0;  // decoder-layer linears left in float (excluded, routers)
  std::vector<std::string> files;
  std::vector<std::string> warnings;
  QuantizePhases phases;
  double total_s = 0;
};

// Quantizes; validates everything (processors, save entry, forms the saver holds, dataset)
// before the first layer is read. Throws slim::Error naming what is wrong; a failed or
// interrupted run leaves no output that looks complete.
QuantizeSummary quantize_model(const QuantizeOptions& options);

// `--dry_run`: for every linear of the model, the scheme it will get, the processors that touch
// it and its output tag; nothing is read but config.json.
std::vector<algo::LinearPlan> plan_quantization(const std::string& model_path,
                                                const QuantConfig& config);

// The calibration texts of `dataset` (a path; or a name of msModelSlim's built-in sets, which
// Slim replaces by its bundled public-domain set, data/calib/sotu_calib.jsonl, with a warning).
std::vector<std::string> load_calibration_texts(const std::string& dataset);

}  // namespace slim::pipeline
