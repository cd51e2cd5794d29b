// Hugging Face checkpoint -> GGUF file that llama.cpp loads, as llama.cpp's own converter
// (convert_hf_to_gguf.py) writes it for LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM and
// Qwen3ForCausalLM: architecture names, hyper-parameter keys, llama.cpp tensor names, the Q/K row
// permutation of the llama architecture, the llama3 rope_freqs tensor and the tokenizer metadata.
// docs/formats.md ("GGUF") describes the mapping; where Slim departs from the converter it says
// why.
//
// (The namespace is slim::exporter because `export` is a C++ keyword.)
#pragma once

#include <ATen/core/Tensor.h>
#include <nlohmann/json.hpp>

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "slim/io/gguf.h"
#include "slim/io/model_config.h"

namespace slim::io {
class GgufWriter;
}

namespace slim::exporter {

// ------------------------------------------------------------------------------------ model

struct GgufExportOptions {
  std::string model_path;  // Hugging Face model directory (config.json, safetensors, tokenizer)
  std::string save_path;   // the .gguf file to write
  // auto | f32 | f16 | bf16. auto: bf16 or f16 as the checkpoint's first matrix, else f16 (as the
  // converter's --outtype auto). 1-D tensors and norms are always f32.
  std::string outtype = "auto";
  // tokenizer.ggml.pre to write instead of the recognised one (byte-level BPE tokenizers).
  std::optional<std::string> pre_tokenizer;
  std::string name;  // general.name; default: the model directory's name
  bool overwrite = false;
};

struct GgufExportResult {
  std::string path;
  std::string architecture;  // llama | qwen2 | qwen3
  std::string outtype;       // f32 | f16 | bf16
  std::string tokenizer_model;
  std::string pre_tokenizer;  // "" when none is written
  size_t tensors = 0;
  uint64_t bytes = 0;
};

// Converts and writes atomically (temporary file beside the target, renamed at the end; an
// existing target is refused unless `overwrite`). Tensors are read one at a time from the
// memory-mapped safetensors. Throws slim::Error naming the file, key or tensor on bad input:
// unsupported architectures, unknown outtypes, unrecognised pre-tokenizers, missing tensors.
GgufExportResult export_gguf(const GgufExportOptions& options);

// The architectures export_gguf accepts ("LlamaForCausalLM", ...) and the GGUF architecture each
// becomes; nullopt for others.
std::vector<std::string> gguf_export_architectures();
std::optional<std::string> gguf_architecture_of(const std::string& hf_architecture);

// llama.cpp's name for a Hugging Face tensor name ("model.layers.3.self_attn.q_proj.weight" ->
// "blk.3.attn_q.weight"); nullopt for names it has no mapping for.
std::optional<std::string> gguf_tensor_name(const std::string& hf_name);

// The row permutation convert_hf_to_gguf.py applies to q_proj / k_proj weights and biases for the
// llama architecture: HF rotates the two halves of each head (rotate_half), llama.cpp's llama
// rope rotates adjacent pairs, so within each of the `heads` heads, row (j * d/2 + i) moves to
// row (2i + j) (d = rows / heads, i < d/2, j in {0, 1}). Works on [rows] and [rows, cols].
at::Tensor permute_rope_rows(const at::Tensor& weight, int64_t heads);

// The llama3 rope factors (`rope_freqs.weight`, head_dim / 2 floats) the converter generates.
std::vector<float> llama3_rope_factors(const io::ModelConfig& config);

// ------------------------------------------------------------------------------- tokenizer

// The tokenizer.* metadata of a GGUF file.
struct GgufVocab {
  std::string model;                 // tokenizer.ggml.model: "gpt2" or "llama"
  std::optional<std::string> pre;    // tokenizer.ggml.pre
  std::string pre_reason;            // how `pre` was chosen, for the log
  std::vector<std::string> tokens;   // tokenizer.ggml.tokens
  std::vector<float> scores;         // tokenizer.ggml.scores ("llama" only)
  std::vector<int32_t> token_types;  // tokenizer.ggml.token_type (GGUF TokenType numbering)
  std::optional<std::vector<std::string>> merges;  // tokenizer.ggml.merges ("gpt2")
  // "bos", "eos", "eot", "unk", "sep", "pad", "mask" -> id, in the order the converter adds them.
  std::vector<std::pair<std::string, uint32_t>> special_ids;
  // "bos", "eos", "sep" -> tokenizer.ggml.add_<type>_token.
  std::vector<std::pair<std::string, bool>> add_special;
  std::optional<bool> add_space_prefix;
  std::optional<bool> normalizer_lowercase;
  std::optional<bool> normalizer_strip_accents;
  std::optional<std::string> chat_template;
  std::vector<std::pair<std::string, std::string>> named_chat_templates;
  std::string source;  // what it was read from, for the log
};

// Builds the vocabulary metadata from a model directory as the converter does for `config`'s
// family: tokenizer.model (SentencePiece) when present; else, for Llama/Mistral, a
// SentencePiece-style tokenizer.json (BPE with byte fallback) as "llama"; else a byte-level BPE
// tokenizer.json as "gpt2" with the recognised pre-tokenizer (or `pre_override`).
GgufVocab build_gguf_vocab(const std::string& model_dir, const io::ModelConfig& config,
                           const std::optional<std::string>& pre_override = std::nullopt);
// Writes the tokenizer.* keys.
void write_gguf_vocab(io::GgufWriter& writer, const GgufVocab& vocab);

// The tokenizer.ggml.pre name llama.cpp knows for a byte-level BPE tokenizer.json, recognised
// from its pre-tokenizer (split regex, ByteLevel options), normalizer and ignore_merges; throws
// slim::Error naming `source` and listing the recognised ones otherwise. `reason`, when given,
// receives a description of what matched.
std::string recognise_pre_tokenizer(const nlohmann::json& tokenizer_json, const std::string& source,
                                    std::string* reason = nullptr);
// "gpt-2", "llama-bpe", "qwen2".
std::vector<std::string> recognised_pre_tokenizers();

}  // namespace slim::exporter
