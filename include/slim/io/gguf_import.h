// GGUF -> Hugging Face: imports a llama.cpp checkpoint of a Llama, Qwen2 or Qwen3 model into a
// directory transformers (and Slim) load: config.json, generation_config.json, model.safetensors
// (sharded above `max_shard_bytes`), and the tokenizer rebuilt from the GGUF vocabulary.
//
// What llama.cpp's convert_hf_to_gguf.py did is undone: tensor names are mapped back
// (token_embd -> model.embed_tokens, blk.N.attn_q -> model.layers.N.self_attn.q_proj, ...), the
// ggml dimension order (fastest first) is reversed to row-major, the rotary row permutation that
// the `llama` architecture applies to attn_q / attn_k is inverted (qwen2 / qwen3 are stored
// unpermuted), quantized tensors are dequantized (slim/io/ggml_quants.h) and rounded to the output
// dtype. config.json comes from the `<arch>.*` hyper-parameters, checked against the tensors;
// tie_word_embeddings is set when there is no `output` tensor; linear / yarn rope scaling comes
// from `<arch>.rope.scaling.*`, and llama3 rope scaling is recovered from the `rope_freqs` tensor.
//
// Tokenizer: rebuilt from the GGUF vocabulary by write_hf_tokenizer (slim/io/tokenizer/
// gguf_tokenizer.h).
#pragma once

#include <ATen/core/Tensor.h>
#include <c10/core/ScalarType.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <string>
#include <vector>

namespace slim::io {

class GgufFile;
struct GgufTensorInfo;

struct GgufImportOptions {
  std::string gguf_path;
  std::string save_path;
  c10::ScalarType dtype = c10::kBFloat16;    // bf16, fp16 or fp32
  uint64_t max_shard_bytes = 5'000'000'000;  // 0: one model.safetensors whatever its size
  bool overwrite = false;                    // replace a non-empty save_path
  bool vocab_only = false;                   // write the tokenizer files only
};

struct GgufImportSummary {
  std::string architecture;        // "Qwen3ForCausalLM"; "" with vocab_only
  int64_t tensors = 0;             // tensors written
  std::vector<std::string> files;  // written, relative to save_path, sorted
};

// Throws slim::Error naming the file, key or tensor for anything it cannot import (another
// architecture, a tensor type it cannot dequantize, missing or inconsistent tensors, unsupported
// tokenizer). Output appears atomically (AtomicOutputDir): nothing is left on failure.
GgufImportSummary import_gguf(const GgufImportOptions& options);

// ------------------------------------------------------------------------- pieces
// (used by import_gguf, by the GGUF weight source that runs a .gguf file directly, and by tests)

// config.json of the model in `gguf`, as import_gguf writes it (torch_dtype `dtype`): built from
// the `<arch>.*` hyper-parameters and checked against the tensors. Throws naming the file and key.
nlohmann::ordered_json hf_config_from_gguf(const GgufFile& gguf, c10::ScalarType dtype);

// The Hugging Face value of a GGUF tensor: dequantized to `dtype`, row-major, and for the `llama`
// architecture attn_q / attn_k rows (weights and biases) un-permuted for `heads` / `kv_heads`.
at::Tensor hf_tensor_from_gguf(const GgufFile& gguf, const GgufTensorInfo& info, int64_t heads,
                               int64_t kv_heads, c10::ScalarType dtype);

// Hugging Face name of a GGUF tensor of a llama / qwen2 / qwen3 model ("blk.3.ffn_up.weight" ->
// "model.layers.3.mlp.up_proj.weight"); "" for names it does not know.
std::string hf_tensor_name(const std::string& gguf_name);

}  // namespace slim::io
