// GGUF import (slim/io/gguf_import.h) on tiny GGUF files built in the tests: tensor names,
// dimension order, the llama q/k row permutation, dequantization, config.json, rope scaling,
// tied embeddings, sharding, dtypes, bad input; and the tokenizers rebuilt from llama.cpp's real
// vocab-only files against their golden ids (assets).
#include "slim/io/gguf_import.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <filesystem>
#include <map>
#include <string>
#include <vector>

#include "slim/core/files.h"
#include "slim/io/gguf.h"
#include "slim/io/model_config.h"
#include "slim/io/safetensors.h"
#include "slim/io/tokenizer/gguf_tokenizer.h"
#include "slim/io/tokenizer/tokenizer.h"
#include "support/assets.h"
#include "support/expect_error.h"
#include "support/gguf_builder.h"
#include "support/llama_vocab_tests.h"
#include "support/temp_dir.h"

namespace {

using slim::io::GgmlType;
using slim::io::GgufImportOptions;
using slim::io::import_gguf;
using slim::testing::GgufBuilder;
using slim::testing::TempDir;
namespace fs = std::filesystem;

struct Tiny {
  std::string arch = "llama";
  int64_t vocab = 40, hidden = 32, ff = 64, layers = 2, heads = 4, kv = 2, head_dim = 8;
  bool tied = false;
  bool qkv_bias = false;
  bool o_bias = false;
  bool qk_norm = false;
  bool key_length = false;  // write <arch>.attention.key_length
};

// convert_hf_to_gguf.py's LlamaModel.permute: HF rows -> GGUF rows, per head (half, pair) ->
// (pair, half).
at::Tensor llama_permute(const at::Tensor& w, int64_t heads) {
  std::vector<int64_t> shape = {heads, 2, w.size(0) / heads / 2};
  for (int64_t d = 1; d < w.dim(); ++d)
    shape.push_back(w.size(d));
  return w.reshape(shape).transpose(1, 2).reshape(w.sizes()).contiguous();
}

std::string f32_bytes_of(const at::Tensor& t) {
  const at::Tensor c = t.to(at::kFloat).contiguous();
  return std::string(static_cast<const char*>(c.data_ptr()), c.numel() * 4);
}

std::vector<int64_t> ggml_dims(const at::Tensor& t) {
  std::vector<int64_t> dims(t.sizes().rbegin(), t.sizes().rend());
  return dims;
}

// A Q8_0 [rows, 32] tensor whose row r has scale 2^-(r % 4) and quants (j - 16 + r) % 100.
std::pair<std::string, at::Tensor> q8_0_matrix(int64_t rows) {
  std::string bytes;
  at::Tensor values = at::empty({rows, 32}, at::kFloat);
  const uint16_t scales[4] = {0x3C00, 0x3800, 0x3400, 0x3000};  // 1, 1/2, 1/4, 1/8
  for (int64_t r = 0; r < rows; ++r) {
    const uint16_t d = scales[r % 4];
    bytes.push_back(static_cast<char>(d & 0xFF));
    bytes.push_back(static_cast<char>(d >> 8));
    for (int j = 0; j < 32; ++j) {
      const int8_t q = static_cast<int8_t>((j - 16 + r) % 100);
      bytes.push_back(static_cast<char>(q));
      values[r][j] = static_cast<float>(q) * std::ldexp(1.0f, -static_cast<int>(r % 4));
    }
  }
  return {bytes, values};
}

// Builds the GGUF of `m`; `expected` gets each tensor's Hugging Face name and values.
GgufBuilder tiny_gguf(const Tiny& m, std::map<std::string, at::Tensor>* expected) {
  const std::string p = m.arch + ".";
  GgufBuilder gguf;
  gguf.kv_string("general.architecture", m.arch)
      .kv_u32(p + "block_count", static_cast<uint32_t>(m.layers))
      .kv_u32(p + "context_length", 2048)
      .kv_u32(p + "embedding_length", static_cast<uint32_t>(m.hidden))
      .kv_u32(p + "feed_forward_length", static_cast<uint32_t>(m.ff))
      .kv_u32(p + "attention.head_count", static_cast<uint32_t>(m.heads))
      .kv_u32(p + "attention.head_count_kv", static_cast<uint32_t>(m.kv))
      .kv_f32(p + "attention.layer_norm_rms_epsilon", 1e-5f)
      .kv_f32(p + "rope.freq_base", 10000.0f);
  if (m.key_length) gguf.kv_u32(p + "attention.key_length", static_cast<uint32_t>(m.head_dim));
  int64_t counter = 0;
  const auto add = [&](const std::string& gguf_name, const std::string& hf_name,
                       std::vector<int64_t> shape, int64_t permute_heads = 0) {
    // Distinct values: a ramp offset per tensor.
    int64_t numel = 1;
    for (const int64_t dim : shape)
      numel *= dim;
    const at::Tensor hf =
        (at::arange(numel, at::kFloat) * 0.01 + static_cast<double>(++counter)).reshape(shape);
    const at::Tensor stored = permute_heads > 0 ? llama_permute(hf, permute_heads) : hf;
    gguf.tensor(gguf_name, GgmlType::F32, ggml_dims(stored), f32_bytes_of(stored));
    (*expected)[hf_name] = hf;
  };
  const bool permute = m.arch == "llama";
  add("token_embd.weight", "model.embed_tokens.weight", {m.vocab, m.hidden});
  for (int64_t l = 0; l < m.layers; ++l) {
    const std::string g = "blk." + std::to_string(l) + ".";
    const std::string h = "model.layers." + std::to_string(l) + ".";
    const int64_t q = m.heads * m.head_dim, kv = m.kv * m.head_dim;
    add(g + "attn_norm.weight", h + "input_layernorm.weight", {m.hidden});
    add(g + "attn_q.weight", h + "self_attn.q_proj.weight", {q, m.hidden}, permute ? m.heads : 0);
    add(g + "attn_k.weight", h + "self_attn.k_proj.weight", {kv, m.hidden}, permute ? m.kv : 0);
    add(g + "attn_v.weight", h + "self_attn.v_proj.weight", {kv, m.hidden});
    if (m.qkv_bias) {
      add(g + "attn_q.bias", h + "self_attn.q_proj.bias", {q}, permute ? m.heads : 0);
      add(g + "attn_k.bias", h + "self_attn.k_proj.bias", {kv}, permute ? m.kv : 0);
      add(g + "attn_v.bias", h + "self_attn.v_proj.bias", {kv});
    }
    add(g + "attn_output.weight", h + "self_attn.o_proj.weight", {m.hidden, q});
    if (m.o_bias) add(g + "attn_output.bias", h + "self_attn.o_proj.bias", {m.hidden});
    if (m.qk_norm) {
      add(g + "attn_q_norm.weight", h + "self_attn.q_norm.weight", {m.head_dim});
      add(g + "attn_k_norm.weight", h + "self_attn.k_norm.weight", {m.head_dim});
    }
    add(g + "ffn_norm.weight", h + "post_attention_layernorm.weight", {m.hidden});
    add(g + "ffn_gate.weight", h + "mlp.gate_proj.weight", {m.ff, m.hidden});
    if (m.hidden == 32) {  // a quantized tensor: rows of one Q8_0 block
      auto [bytes, values] = q8_0_matrix(m.ff);
      gguf.tensor(g + "ffn_up.weight", GgmlType::Q8_0, {32, m.ff}, bytes);
      (*expected)[h + "mlp.up_proj.weight"] = values;
    } else {
      add(g + "ffn_up.weight", h + "mlp.up_proj.weight", {m.ff, m.hidden});
    }
    add(g + "ffn_down.weight", h + "mlp.down_proj.weight", {m.hidden, m.ff});
  }
  add("output_norm.weight", "model.norm.weight", {m.hidden});
  if (!m.tied) add("output.weight", "lm_head.weight", {m.vocab, m.hidden});
  return gguf;
}

std::string write_gguf(const TempDir& dir, const GgufBuilder& gguf,
                       const std::string& name = "model.gguf") {
  const std::string path = dir.file(name);
  slim::write_file(path, gguf.build());
  return path;
}

slim::io::GgufImportSummary import_to(const std::string& gguf_path, const std::string& save_path,
                                      c10::ScalarType dtype = at::kFloat) {
  GgufImportOptions options;
  options.gguf_path = gguf_path;
  options.save_path = save_path;
  options.dtype = dtype;
  return import_gguf(options);
}

nlohmann::json read_json(const std::string& path) {
  return nlohmann::json::parse(slim::read_file(path));
}

void expect_tensors(const std::string& dir, const std::map<std::string, at::Tensor>& expected,
                    c10::ScalarType dtype = at::kFloat) {
  const auto checkpoint = slim::io::SafetensorsCheckpoint::open(dir);
  EXPECT_EQ(checkpoint.names().size(), expected.size());
  for (const auto& [name, values] : expected) {
    ASSERT_TRUE(checkpoint.contains(name)) << name;
    const at::Tensor got = checkpoint.tensor(name);
    EXPECT_EQ(got.scalar_type(), dtype) << name;
    EXPECT_TRUE(at::equal(got, values.to(dtype))) << name;
  }
}

// --------------------------------------------------------------------------------- names

TEST(GgufImportNames, MapsEveryLayerTensor) {
  using slim::io::hf_tensor_name;
  EXPECT_EQ(hf_tensor_name("token_embd.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(hf_tensor_name("output_norm.weight"), "model.norm.weight");
  EXPECT_EQ(hf_tensor_name("output.weight"), "lm_head.weight");
  EXPECT_EQ(hf_tensor_name("blk.0.attn_norm.weight"), "model.layers.0.input_layernorm.weight");
  EXPECT_EQ(hf_tensor_name("blk.12.attn_q.weight"), "model.layers.12.self_attn.q_proj.weight");
  EXPECT_EQ(hf_tensor_name("blk.3.attn_k.bias"), "model.layers.3.self_attn.k_proj.bias");
  EXPECT_EQ(hf_tensor_name("blk.3.attn_v.weight"), "model.layers.3.self_attn.v_proj.weight");
  EXPECT_EQ(hf_tensor_name("blk.3.attn_output.weight"), "model.layers.3.self_attn.o_proj.weight");
  EXPECT_EQ(hf_tensor_name("blk.3.attn_q_norm.weight"), "model.layers.3.self_attn.q_norm.weight");
  EXPECT_EQ(hf_tensor_name("blk.3.attn_k_norm.weight"), "model.layers.3.self_attn.k_norm.weight");
  EXPECT_EQ(hf_tensor_name("blk.3.ffn_norm.weight"),
            "model.layers.3.post_attention_layernorm.weight");
  EXPECT_EQ(hf_tensor_name("blk.3.ffn_gate.weight"), "model.layers.3.mlp.gate_proj.weight");
  EXPECT_EQ(hf_tensor_name("blk.3.ffn_up.weight"), "model.layers.3.mlp.up_proj.weight");
  EXPECT_EQ(hf_tensor_name("blk.3.ffn_down.weight"), "model.layers.3.mlp.down_proj.weight");
  for (const char* unknown : {"blk.x.attn_q.weight", "blk.01.attn_q.weight", "blk..attn_q.weight",
                              "blk.0.ffn_gate_exps.weight", "blk.0.attn_qkv.weight", "output.bias",
                              "rope_freqs.weight", "blk.0.attn_q.scale"}) {
    EXPECT_EQ(hf_tensor_name(unknown), "") << unknown;
  }
}

// ----------------------------------------------------------------------------- good files

TEST(GgufImport, LlamaTensorsConfigAndUnpermutedQk) {
  TempDir dir;
  std::map<std::string, at::Tensor> expected;
  const Tiny m;
  const auto summary = import_to(write_gguf(dir, tiny_gguf(m, &expected)), dir.file("hf"));
  EXPECT_EQ(summary.architecture, "LlamaForCausalLM");
  EXPECT_EQ(summary.tensors, static_cast<int64_t>(expected.size()));
  EXPECT_EQ(summary.files, (std::vector<std::string>{"config.json", "generation_config.json",
                                                     "model.safetensors"}));
  expect_tensors(dir.file("hf"), expected);

  const auto config = read_json(dir.file("hf/config.json"));
  EXPECT_EQ(config["architectures"], nlohmann::json::array({"LlamaForCausalLM"}));
  EXPECT_EQ(config["model_type"], "llama");
  EXPECT_EQ(config["vocab_size"], 40);
  EXPECT_EQ(config["hidden_size"], 32);
  EXPECT_EQ(config["intermediate_size"], 64);
  EXPECT_EQ(config["num_hidden_layers"], 2);
  EXPECT_EQ(config["num_attention_heads"], 4);
  EXPECT_EQ(config["num_key_value_heads"], 2);
  EXPECT_EQ(config["head_dim"], 8);
  EXPECT_EQ(config["max_position_embeddings"], 2048);
  EXPECT_EQ(config["rms_norm_eps"].get<double>(), 1e-5);  // the float's shortest decimal
  EXPECT_EQ(config["rope_theta"].get<double>(), 10000.0);
  EXPECT_TRUE(config["rope_scaling"].is_null());
  EXPECT_EQ(config["tie_word_embeddings"], false);
  EXPECT_EQ(config["attention_bias"], false);
  EXPECT_EQ(config["mlp_bias"], false);
  EXPECT_EQ(config["torch_dtype"], "float32");
  // Slim reads it back.
  const auto parsed = slim::io::load_model_config(dir.file("hf"));
  EXPECT_EQ(parsed.architecture, "LlamaForCausalLM");
}

TEST(GgufImport, LlamaBiasesArePermutedBackToo) {
  TempDir dir;
  std::map<std::string, at::Tensor> expected;
  Tiny m;
  m.qkv_bias = m.o_bias = true;
  import_to(write_gguf(dir, tiny_gguf(m, &expected)), dir.file("hf"));
  expect_tensors(dir.file("hf"), expected);
  EXPECT_EQ(read_json(dir.file("hf/config.json"))["attention_bias"], true);
}

TEST(GgufImport, Qwen3TiedEmbeddingsQkNormAndWideHeads) {
  TempDir dir;
  std::map<std::string, at::Tensor> expected;
  Tiny m;
  m.arch = "qwen3";
  m.tied = true;
  m.qk_norm = true;
  m.head_dim = 16;  // heads * head_dim = 64 != hidden
  m.key_length = true;
  import_to(write_gguf(dir, tiny_gguf(m, &expected)), dir.file("hf"));
  expect_tensors(dir.file("hf"), expected);  // no lm_head
  const auto config = read_json(dir.file("hf/config.json"));
  EXPECT_EQ(config["architectures"], nlohmann::json::array({"Qwen3ForCausalLM"}));
  EXPECT_EQ(config["tie_word_embeddings"], true);
  EXPECT_EQ(config["head_dim"], 16);
  EXPECT_EQ(config["use_sliding_window"], false);
}

TEST(GgufImport, Qwen2QkvBiasesAndYarn) {
  TempDir dir;
  std::map<std::string, at::Tensor> expected;
  Tiny m;
  m.arch = "qwen2";
  m.qkv_bias = true;
  auto gguf = tiny_gguf(m, &expected);
  gguf.kv_string("qwen2.rope.scaling.type", "yarn")
      .kv_f32("qwen2.rope.scaling.factor", 4.0f)
      .kv_u32("qwen2.rope.scaling.original_context_length", 32768)
      .kv_f32("qwen2.rope.scaling.yarn_beta_fast", 32.0f);
  import_to(write_gguf(dir, gguf), dir.file("hf"));
  expect_tensors(dir.file("hf"), expected);  // biases not permuted: qwen2 is stored as in HF
  const auto config = read_json(dir.file("hf/config.json"));
  EXPECT_EQ(config["architectures"], nlohmann::json::array({"Qwen2ForCausalLM"}));
  EXPECT_EQ(config["rope_scaling"], (nlohmann::json{{"rope_type", "yarn"},
                                                    {"factor", 4.0},
                                                    {"original_max_position_embeddings", 32768},
                                                    {"beta_fast", 32.0}}));
  EXPECT_EQ(slim::io::load_model_config(dir.file("hf")).rope_scaling.type, "yarn");
}

TEST(GgufImport, LinearRopeScaling) {
  TempDir dir;
  std::map<std::string, at::Tensor> expected;
  auto gguf = tiny_gguf(Tiny{}, &expected);
  gguf.kv_string("llama.rope.scaling.type", "linear").kv_f32("llama.rope.scaling.factor", 2.5f);
  import_to(write_gguf(dir, gguf), dir.file("hf"));
  EXPECT_EQ(read_json(dir.file("hf/config.json"))["rope_scaling"],
            (nlohmann::json{{"rope_type", "linear"}, {"factor", 2.5}}));
}

// convert_hf_to_gguf.py's llama3 rope factors, in float as the converter computes them.
std::vector<float> llama3_factors(double theta, int64_t dim, double factor, double low, double high,
                                  double old) {
  std::vector<float> out;
  for (int64_t i = 0; i < dim; i += 2) {
    const float freq = 1.0f / std::pow(static_cast<float>(theta), static_cast<float>(i) / dim);
    const double wavelen = 2 * 3.14159265358979323846 / freq;
    if (wavelen < old / high) {
      out.push_back(1.0f);
    } else if (wavelen > old / low) {
      out.push_back(static_cast<float>(factor));
    } else {
      const double smooth = (old / wavelen - low) / (high - low);
      out.push_back(static_cast<float>(1 / ((1 - smooth) / factor + smooth)));
    }
  }
  return out;
}

TEST(GgufImport, Llama3RopeScalingRecoveredFromRopeFreqs) {
  for (const auto& [factor, low, high, old] :
       std::vector<std::tuple<double, double, double, int64_t>>{
           {8.0, 1.0, 4.0, 8192}, {32.0, 1.0, 4.0, 8192}, {16.0, 1.0, 2.0, 4096}}) {
    SCOPED_TRACE(factor);
    TempDir dir;
    std::map<std::string, at::Tensor> expected;
    Tiny m;
    m.hidden = 256, m.heads = 2, m.kv = 1, m.head_dim = 128, m.vocab = 8, m.ff = 32, m.layers = 1;
    auto gguf = tiny_gguf(m, &expected);
    const auto factors = llama3_factors(10000.0, 128, factor, low, high, static_cast<double>(old));
    gguf.tensor("rope_freqs.weight", GgmlType::F32, {64}, slim::testing::f32_bytes(factors));
    import_to(write_gguf(dir, gguf), dir.file("hf"));
    expect_tensors(dir.file("hf"), expected);  // rope_freqs is not a checkpoint tensor
    const auto rope = read_json(dir.file("hf/config.json"))["rope_scaling"];
    EXPECT_EQ(rope["rope_type"], "llama3");
    EXPECT_DOUBLE_EQ(rope["factor"].get<double>(), factor);
    EXPECT_NEAR(rope["low_freq_factor"].get<double>(), low, 1e-6);
    EXPECT_NEAR(rope["high_freq_factor"].get<double>(), high, 1e-3);
    EXPECT_EQ(rope["original_max_position_embeddings"], old);
  }
}

TEST(GgufImport, RopeFreqsOfOnesMeansNoScaling) {
  TempDir dir;
  std::map<std::string, at::Tensor> expected;
  auto gguf = tiny_gguf(Tiny{}, &expected);
  gguf.tensor("rope_freqs.weight", GgmlType::F32, {4}, slim::testing::f32_bytes({1, 1, 1, 1}));
  import_to(write_gguf(dir, gguf), dir.file("hf"));
  EXPECT_TRUE(read_json(dir.file("hf/config.json"))["rope_scaling"].is_null());
}

TEST(GgufImport, Bf16ByDefaultAndShards) {
  TempDir dir;
  std::map<std::string, at::Tensor> expected;
  const std::string path = write_gguf(dir, tiny_gguf(Tiny{}, &expected));
  GgufImportOptions options;
  options.gguf_path = path;
  options.save_path = dir.file("hf");
  options.max_shard_bytes = 8000;
  const auto summary = import_gguf(options);
  EXPECT_TRUE(fs::exists(dir.file("hf/model.safetensors.index.json")));
  EXPECT_GT(summary.files.size(), 4u);
  expect_tensors(dir.file("hf"), expected, at::kBFloat16);
  EXPECT_EQ(read_json(dir.file("hf/config.json"))["torch_dtype"], "bfloat16");
}

TEST(GgufImport, Fp16Output) {
  TempDir dir;
  std::map<std::string, at::Tensor> expected;
  import_to(write_gguf(dir, tiny_gguf(Tiny{}, &expected)), dir.file("hf"), at::kHalf);
  expect_tensors(dir.file("hf"), expected, at::kHalf);
  EXPECT_EQ(read_json(dir.file("hf/config.json"))["torch_dtype"], "float16");
}

// A byte-level vocabulary: the 256 byte tokens, two merges, BOS/EOS, end-of-turn, a filler.
GgufBuilder& add_tiny_vocabulary(GgufBuilder& gguf, const std::string& pre) {
  std::vector<std::string> tokens;
  for (int b = 0; b < 256; ++b) {  // GPT-2's byte map
    const bool printable = (b >= '!' && b <= '~') || (b >= 0xA1 && b <= 0xAC) || b >= 0xAE;
    int code = b;
    if (!printable) {
      code = 256;
      for (int c = 0; c < b; ++c) {
        const bool p = (c >= '!' && c <= '~') || (c >= 0xA1 && c <= 0xAC) || c >= 0xAE;
        if (!p) ++code;
      }
    }
    std::string utf8;
    if (code < 0x80) {
      utf8 += static_cast<char>(code);
    } else {
      utf8 += static_cast<char>(0xC0 | (code >> 6));
      utf8 += static_cast<char>(0x80 | (code & 0x3F));
    }
    tokens.push_back(utf8);
  }
  tokens.push_back("hi");
  tokens.push_back("\xC4\xA0hi");  // "Ġhi"
  std::vector<int32_t> types(tokens.size(), 1);
  for (const char* special : {"<|bos|>", "<|eos|>", "<|eot|>"}) {
    tokens.push_back(special);
    types.push_back(3);
  }
  tokens.push_back("[PAD261]");
  types.push_back(5);
  gguf.kv_string("tokenizer.ggml.model", "gpt2")
      .kv_string("tokenizer.ggml.pre", pre)
      .kv_strings("tokenizer.ggml.tokens", tokens)
      .kv_i32s("tokenizer.ggml.token_type", types)
      .kv_strings("tokenizer.ggml.merges", {"h i", "\xC4\xA0 hi"})
      .kv_u32("tokenizer.ggml.bos_token_id", 258)
      .kv_u32("tokenizer.ggml.eos_token_id", 259)
      .kv_u32("tokenizer.ggml.eot_token_id", 260)
      .kv_string("tokenizer.chat_template", "{{ messages }}");
  return gguf;
}

TEST(GgufImport, TokenizerAndGenerationConfigFromTheVocabulary) {
  TempDir dir;
  std::map<std::string, at::Tensor> expected;
  Tiny m;
  m.vocab = 262;
  auto gguf = tiny_gguf(m, &expected);
  add_tiny_vocabulary(gguf, "llama-bpe");
  const auto summary = import_to(write_gguf(dir, gguf), dir.file("hf"));
  EXPECT_EQ(summary.files,
            (std::vector<std::string>{"config.json", "generation_config.json", "model.safetensors",
                                      "tokenizer.json", "tokenizer_config.json"}));
  const auto tokenizer = slim::io::load_tokenizer(dir.file("hf"));
  EXPECT_EQ(tokenizer->encode(" hi hi"), (std::vector<int32_t>{258, 257, 257}));  // BOS added
  EXPECT_EQ(tokenizer->encode("hi", false), (std::vector<int32_t>{256}));
  EXPECT_EQ(tokenizer->encode("<|eot|>", false), (std::vector<int32_t>{260}));
  EXPECT_EQ(tokenizer->decode({256, 257}), "hi hi");
  EXPECT_EQ(tokenizer->token_to_id("[PAD261]"), std::nullopt);
  const auto tokenizer_config = read_json(dir.file("hf/tokenizer_config.json"));
  EXPECT_EQ(tokenizer_config["bos_token"], "<|bos|>");
  EXPECT_EQ(tokenizer_config["eos_token"], "<|eos|>");
  EXPECT_EQ(tokenizer_config["add_bos_token"], true);  // llama.cpp's default for llama-bpe
  EXPECT_EQ(tokenizer_config["chat_template"], "{{ messages }}");
  EXPECT_EQ(tokenizer_config["model_max_length"], 2048);
  const auto generation = read_json(dir.file("hf/generation_config.json"));
  EXPECT_EQ(generation["bos_token_id"], 258);
  EXPECT_EQ(generation["eos_token_id"], nlohmann::json::array({259, 260}));
  const auto config = read_json(dir.file("hf/config.json"));
  EXPECT_EQ(config["bos_token_id"], 258);
  EXPECT_EQ(config["eos_token_id"], 259);
}

TEST(GgufImport, Qwen2PreTokenizerNeedsNoBos) {
  TempDir dir;
  std::map<std::string, at::Tensor> unused;
  Tiny m;
  m.vocab = 262;
  auto gguf = tiny_gguf(m, &unused);
  add_tiny_vocabulary(gguf, "qwen2");
  import_to(write_gguf(dir, gguf), dir.file("hf"));
  const auto tokenizer = slim::io::load_tokenizer(dir.file("hf"));
  EXPECT_EQ(tokenizer->encode(" hi"), (std::vector<int32_t>{257}));
  const auto json = read_json(dir.file("hf/tokenizer.json"));
  EXPECT_EQ(json["normalizer"]["type"], "NFC");
  EXPECT_EQ(json["model"]["ignore_merges"], false);
}

TEST(GgufImport, SmolLmPreTokenizerSplitsDigitsAndNeedsNoBos) {
  TempDir dir;
  std::map<std::string, at::Tensor> unused;
  Tiny m;
  m.vocab = 262;
  auto gguf = tiny_gguf(m, &unused);
  add_tiny_vocabulary(gguf, "smollm");
  import_to(write_gguf(dir, gguf), dir.file("hf"));
  const auto json = read_json(dir.file("hf/tokenizer.json"));
  const nlohmann::json expected_pre = {{"type", "Sequence"},
                                       {"pretokenizers",
                                        {{{"type", "Digits"}, {"individual_digits", true}},
                                         {{"type", "ByteLevel"},
                                          {"add_prefix_space", false},
                                          {"trim_offsets", true},
                                          {"use_regex", true}}}}};
  EXPECT_EQ(json["pre_tokenizer"], expected_pre);
  EXPECT_EQ(json["normalizer"], nullptr);
  EXPECT_EQ(json["model"]["ignore_merges"], false);
  const auto tokenizer = slim::io::load_tokenizer(dir.file("hf"));
  EXPECT_EQ(tokenizer->encode(" hi 12"), (std::vector<int32_t>{257, ' ', '1', '2'}));  // no BOS
  EXPECT_EQ(read_json(dir.file("hf/tokenizer_config.json"))["add_bos_token"], false);
}

TEST(GgufImport, VocabOnlyWritesTheTokenizer) {
  TempDir dir;
  GgufBuilder gguf;
  gguf.kv_string("general.architecture", "llama");
  add_tiny_vocabulary(gguf, "gpt-2");
  GgufImportOptions options;
  options.gguf_path = write_gguf(dir, gguf);
  options.save_path = dir.file("tok");
  options.vocab_only = true;
  const auto summary = import_gguf(options);
  EXPECT_EQ(summary.files, (std::vector<std::string>{"tokenizer.json", "tokenizer_config.json"}));
  EXPECT_EQ(slim::io::load_tokenizer(dir.file("tok"))->encode(" hi"), (std::vector<int32_t>{257}));
}

TEST(GgufImport, OverwriteReplacesTheDirectory) {
  TempDir dir;
  std::map<std::string, at::Tensor> expected;
  const std::string path = write_gguf(dir, tiny_gguf(Tiny{}, &expected));
  fs::create_directories(dir.file("hf"));
  slim::write_file(dir.file("hf/old.txt"), "x");
  GgufImportOptions options;
  options.gguf_path = path;
  options.save_path = dir.file("hf");
  EXPECT_ERROR_WITH(import_gguf(options), "hf");
  EXPECT_TRUE(fs::exists(dir.file("hf/old.txt")));
  options.overwrite = true;
  import_gguf(options);
  EXPECT_FALSE(fs::exists(dir.file("hf/old.txt")));
  EXPECT_TRUE(fs::exists(dir.file("hf/config.json")));
}

// ------------------------------------------------------------------------------- bad input

void expect_import_error(const GgufBuilder& gguf, std::initializer_list<std::string> fragments) {
  TempDir dir;
  const std::string path = write_gguf(dir, gguf);
  try {
    import_to(path, dir.file("out"));
    ADD_FAILURE() << "no error";
  } catch (const slim::Error& error) {
    slim::testing::expect_message_has(error.what(), fragments);
    slim::testing::expect_message_has(error.what(), {"model.gguf"});
  }
  EXPECT_FALSE(fs::exists(dir.file("out"))) << "nothing may be left behind";
}

TEST(GgufImportErrors, UnsupportedArchitecture) {
  GgufBuilder gguf;
  gguf.kv_string("general.architecture", "gemma");
  gguf.tensor("token_embd.weight", GgmlType::F32, {1}, slim::testing::f32_bytes({0}));
  expect_import_error(gguf, {"general.architecture is 'gemma'", "llama, qwen2, qwen3"});
}

TEST(GgufImportErrors, MissingTensor) {
  std::map<std::string, at::Tensor> unused;
  auto gguf = tiny_gguf(Tiny{}, &unused);
  gguf.remove_tensor("blk.1.ffn_up.weight");
  expect_import_error(gguf, {"no tensor for 'model.layers.1.mlp.up_proj.weight'"});
}

TEST(GgufImportErrors, UnknownTensor) {
  std::map<std::string, at::Tensor> unused;
  auto gguf = tiny_gguf(Tiny{}, &unused);
  gguf.tensor("blk.0.ffn_gate_exps.weight", GgmlType::F32, {1}, slim::testing::f32_bytes({0}));
  expect_import_error(gguf, {"tensor 'blk.0.ffn_gate_exps.weight'", "no counterpart"});
}

TEST(GgufImportErrors, TensorOfAnotherLayer) {
  std::map<std::string, at::Tensor> unused;
  auto gguf = tiny_gguf(Tiny{}, &unused);
  gguf.tensor("blk.7.ffn_norm.weight", GgmlType::F32, {32}, std::string(128, '\0'));
  expect_import_error(gguf, {"tensor 'blk.7.ffn_norm.weight'", "is not part of LlamaForCausalLM"});
}

TEST(GgufImportErrors, ShapeMismatch) {
  std::map<std::string, at::Tensor> unused;
  auto gguf = tiny_gguf(Tiny{}, &unused);
  gguf.remove_tensor("blk.0.ffn_down.weight");
  gguf.tensor("blk.0.ffn_down.weight", GgmlType::F32, {64, 16}, std::string(64 * 16 * 4, '\0'));
  expect_import_error(gguf, {"tensor 'blk.0.ffn_down.weight'", "[16, 64]",
                             "'model.layers.0.mlp.down_proj.weight'", "needs [32, 64]"});
}

TEST(GgufImportErrors, VocabOnlyFileWithoutTheFlag) {
  GgufBuilder gguf;
  gguf.kv_string("general.architecture", "llama");
  add_tiny_vocabulary(gguf, "gpt-2");
  expect_import_error(gguf, {"no tensor 'token_embd.weight'", "--vocab_only"});
}

TEST(GgufImportErrors, MissingHyperParameterNamesTheKey) {
  GgufBuilder bad;
  bad.kv_string("general.architecture", "llama").kv_u32("llama.embedding_length", 32);
  bad.tensor("token_embd.weight", GgmlType::F32, {32, 40}, std::string(32 * 40 * 4, '\0'));
  expect_import_error(bad, {"'llama.block_count'", "missing"});
}

TEST(GgufImportErrors, PartialLlamaBiases) {
  std::map<std::string, at::Tensor> unused;
  Tiny m;
  m.qkv_bias = true;  // but no attn_output.bias
  expect_import_error(tiny_gguf(m, &unused),
                      {"biases on q/k/v but not on attn_output", "all four projections or none"});
}

TEST(GgufImportErrors, UnreproducibleRopeFreqs) {
  std::map<std::string, at::Tensor> unused;
  auto gguf = tiny_gguf(Tiny{}, &unused);
  gguf.tensor("rope_freqs.weight", GgmlType::F32, {4}, slim::testing::f32_bytes({1, 3, 2, 5}));
  expect_import_error(gguf, {"rope_freqs.weight", "no llama3 rope scaling reproduces"});
}

TEST(GgufImportErrors, UnsupportedRopeScalingType) {
  std::map<std::string, at::Tensor> unused;
  auto gguf = tiny_gguf(Tiny{}, &unused);
  gguf.kv_string("llama.rope.scaling.type", "longrope");
  expect_import_error(gguf, {"llama.rope.scaling.type is 'longrope'"});
}

TEST(GgufImportErrors, UnsupportedPreTokenizer) {
  std::map<std::string, at::Tensor> unused;
  Tiny m;
  m.vocab = 262;
  auto gguf = tiny_gguf(m, &unused);
  add_tiny_vocabulary(gguf, "deepseek-coder");
  expect_import_error(gguf,
                      {"tokenizer.ggml.pre is 'deepseek-coder'", "llama-bpe", "qwen2", "gpt-2"});
}

TEST(GgufImportErrors, SplitFile) {
  std::map<std::string, at::Tensor> unused;
  auto gguf = tiny_gguf(Tiny{}, &unused);
  gguf.kv_u32("split.count", 3).kv_u32("split.no", 0);
  expect_import_error(gguf, {"part 1 of a GGUF split into 3 files", "llama-gguf-split --merge"});
}

TEST(GgufImportErrors, UndequantizableTensorType) {
  std::map<std::string, at::Tensor> unused;
  auto gguf = tiny_gguf(Tiny{}, &unused);
  gguf.remove_tensor("blk.0.ffn_gate.weight");
  gguf.tensor("blk.0.ffn_gate.weight", GgmlType::I8, {32, 64}, std::string(32 * 64, '\0'));
  expect_import_error(gguf, {"tensor 'blk.0.ffn_gate.weight'", "i8 cannot be dequantized"});
}

// ------------------------------------------------------------ real vocabularies (assets)

void expect_golden_ids_after_import(const std::string& name, const std::string& expected_file) {
  const std::string base = "llama.cpp/models/ggml-vocab-" + name + ".gguf";
  SLIM_ASSET_OR_SKIP(vocab, base);
  SLIM_ASSET_OR_SKIP(inp, base + ".inp");
  SLIM_ASSET_OR_SKIP(out, base + ".out");
  TempDir dir;
  const auto gguf = slim::io::GgufFile::open(vocab);
  const auto files = slim::io::write_hf_tokenizer(*gguf, dir.path());
  ASSERT_EQ(files.front(), expected_file);
  const auto tokenizer = slim::io::load_tokenizer(dir.path());
  const auto cases = slim::testing::read_llama_vocab_tests(inp, out);
  ASSERT_GT(cases.size(), 30u);
  size_t mismatches = 0;
  for (size_t i = 0; i < cases.size(); ++i) {
    const auto ids = tokenizer->encode(cases[i].text, /*add_special_tokens=*/false);
    if (ids != cases[i].ids) {
      ++mismatches;
      ADD_FAILURE() << name << " input " << i << " " << testing::PrintToString(cases[i].text);
    }
  }
  EXPECT_EQ(mismatches, 0u);
}

TEST(GgufImportTokenizer, Qwen2GoldenIds) {
  expect_golden_ids_after_import("qwen2", "tokenizer.json");
}
TEST(GgufImportTokenizer, LlamaBpeGoldenIds) {
  expect_golden_ids_after_import("llama-bpe", "tokenizer.json");
}
TEST(GgufImportTokenizer, Gpt2GoldenIds) {
  expect_golden_ids_after_import("gpt-2", "tokenizer.json");
}
TEST(GgufImportTokenizer, StarcoderGoldenIds) {  // the SmolLM / SmolLM2 pre-tokenizer too
  expect_golden_ids_after_import("starcoder", "tokenizer.json");
}
TEST(GgufImportTokenizer, RefactGoldenIds) {
  expect_golden_ids_after_import("refact", "tokenizer.json");
}
TEST(GgufImportTokenizer, LlamaSpmGoldenIds) {
  expect_golden_ids_after_import("llama-spm", "tokenizer.model");
}

TEST(GgufImportTokenizer, SpecialTokensFollowTheVocabulary) {
  SLIM_ASSET_OR_SKIP(vocab, "llama.cpp/models/ggml-vocab-llama-bpe.gguf");
  TempDir dir;
  slim::io::write_hf_tokenizer(*slim::io::GgufFile::open(vocab), dir.path());
  const auto tokenizer = slim::io::load_tokenizer(dir.path());
  EXPECT_EQ(tokenizer->bos_id(), 128000);
  EXPECT_EQ(tokenizer->encode("Hello").front(), 128000);
  EXPECT_EQ(tokenizer->encode("<|end_of_text|>", false), (std::vector<int32_t>{128001}));
  EXPECT_TRUE(tokenizer->is_special(128001));
}

}  // namespace
