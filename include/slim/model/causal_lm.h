// A decoder-only causal language model run layer by layer from a weight source (a memory-mapped
// Hugging Face checkpoint, tensors in memory, or a saved quantized output: slim/model/
// weight_source.h).
//
// Only what a step needs is materialised on the device: the embedding rows of the batch, one
// decoder layer, the final norm and head. Whole-model execution is the same code in a loop;
// `keep_layers_resident()` keeps every layer on the device for repeated calls (generation).
// Quantized linears of a saved output run from their stored codes and scales, as an inference
// engine runs them.
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/Device.h>

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "slim/io/model_config.h"
#include "slim/model/blocks.h"
#include "slim/model/decoder.h"
#include "slim/model/family.h"
#include "slim/model/weight_source.h"

namespace slim::model {

struct RuntimeOptions {
  c10::Device device = c10::Device(c10::kCPU);
  at::ScalarType compute_dtype = at::kFloat;
};

class CausalLM {
 public:
  // Opens whatever `model_path` holds (open_weight_source); throws slim::Error naming the file.
  static std::unique_ptr<CausalLM> open(const std::string& model_path, RuntimeOptions options = {});
  static std::unique_ptr<CausalLM> from_source(std::unique_ptr<WeightSource> source,
                                               RuntimeOptions options = {});
  // A model over tensors held in memory (training, tests), keyed by checkpoint name. They are used
  // as they are, without a copy when device and dtype agree: autograd reaches them, and in-place
  // updates (an optimizer step) are seen by the next call. Throws naming a missing or mis-shaped
  // tensor.
  static std::unique_ptr<CausalLM> from_tensors(io::ModelConfig config,
                                                std::map<std::string, at::Tensor> tensors,
                                                RuntimeOptions options = {});

  const io::ModelConfig& config() const { return config_; }
  const FamilySpec& family() const { return *family_; }
  const RuntimeOptions& options() const { return options_; }
  const WeightSource& source() const { return *source_; }

  // Token ids [batch, seq] (int64) -> hidden states [batch, seq, hidden] in the compute dtype.
  at::Tensor embed(const at::Tensor& ids) const;
  // Materialises decoder layer `index` on the device; throws naming a missing or mis-shaped tensor.
  // Float weights are in the compute dtype, or kept in the stored dtype with
  // `keep_stored_dtype` (what quantization reads; the forward then needs that compute dtype).
  // The source's pages of the layer are released once copied.
  DecoderLayer load_layer(int64_t index, bool keep_stored_dtype = false) const;
  // A context for a call on positions [start, start + seq) of `batch` sequences.
  ForwardContext make_context(int64_t batch, int64_t seq, int64_t start = 0,
                              KVCache* cache = nullptr) const;
  at::Tensor run_layer(DecoderLayer& layer, const at::Tensor& hidden,
                       ForwardContext& context) const;
  // Final norm and lm_head: hidden [batch, seq, hidden] -> logits [batch, seq, vocab] (fp32).
  at::Tensor head(const at::Tensor& hidden) const;
  // The final norm only (for evaluation that computes logits in chunks).
  at::Tensor final_norm(const at::Tensor& hidden) const;
  at::Tensor lm_head_weight() const;

  // Whole model: ids [batch, seq] -> logits, loading each layer in turn (or using resident ones).
  at::Tensor forward(const at::Tensor& ids, KVCache* cache = nullptr) const;
  void keep_layers_resident();

 private:
  CausalLM() = default;
  void init_runtime(RuntimeOptions options);
  // The stored tensor `name` as it is (mapped or in memory), its shape and dtype checked.
  at::Tensor stored(const std::string& name, const std::vector<int64_t>& shape) const;
  at::Tensor materialize(const std::string& name, const std::vector<int64_t>& shape,
                         bool keep_stored_dtype = false) const;

  io::ModelConfig config_;
  const FamilySpec* family_ = nullptr;
  RuntimeOptions options_;
  std::unique_ptr<WeightSource> source_;
  bool in_memory_ = false;  // from_tensors(): never copy, never cache
  std::unique_ptr<RotaryEmbedding> rotary_;
  mutable at::Tensor final_norm_;
  mutable at::Tensor lm_head_;
  std::vector<DecoderLayer> resident_;
};

}  // namespace slim::model
