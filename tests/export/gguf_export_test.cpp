// HF -> GGUF export of random models of every family, read back with the GGUF reader: names,
// ggml-order shapes, types, the llama Q/K permutation (checked against an index computation of
// the test's own), hyper-parameters and tokenizer keys; real tokenizers when the assets are
// there; bad input.
#include "slim/export/gguf_export.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <fstream>

#include "slim/core/files.h"
#include "slim/io/gguf.h"
#include "slim/io/safetensors.h"
#include "slim/io/tokenizer/sentencepiece.h"
#include "slim/io/tokenizer/tokenizer.h"
#include "slim/model/random_model.h"
#include "support/assets.h"
#include "support/expect_error.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace {

using json = nlohmann::json;
using slim::exporter::export_gguf;
using slim::exporter::GgufExportOptions;
using slim::io::GgmlType;
using slim::io::GgufFile;
using slim::testing::TempDir;
namespace fs = std::filesystem;

constexpr int32_t kNormal = 1, kControl = 3, kUserDefined = 4, kUnused = 5, kByte = 6;

slim::model::RandomModelOptions small(const std::string& arch) {
  slim::model::RandomModelOptions options;
  options.architecture = arch;
  options.vocab_size = 260;  // 256 byte tokens, <|bos|>, <|eos|>, two unused ids
  options.seed = 7;
  return options;
}

std::string write_model(const TempDir& dir, const slim::model::RandomModelOptions& options,
                        const json& config_edits = json::object(), const std::string& name = "m") {
  const std::string path = dir.file(name);
  slim::model::write_random_model(options, path);
  if (!config_edits.empty()) {
    json config = json::parse(slim::read_file(path + "/config.json"));
    config.update(config_edits);
    slim::write_file(path + "/config.json", config.dump(2));
  }
  return path;
}

std::shared_ptr<GgufFile> convert(const std::string& model, const std::string& out,
                                  const std::string& outtype = "auto") {
  GgufExportOptions options;
  options.model_path = model;
  options.save_path = out;
  options.outtype = outtype;
  export_gguf(options);
  return GgufFile::open(out);
}

at::Tensor gguf_tensor(const GgufFile& file, const std::string& name) {
  const auto& info = file.tensor(name);
  const at::ScalarType type = info.type == GgmlType::F32   ? at::kFloat
                              : info.type == GgmlType::F16 ? at::kHalf
                                                           : at::kBFloat16;
  std::vector<int64_t> shape(info.dims.rbegin(), info.dims.rend());  // row-major
  at::Tensor out = at::empty(shape, type);
  std::memcpy(out.data_ptr(), file.tensor_data(info), *info.nbytes);
  return out;
}

// The converter's permutation, computed row by row: within each head of d rows, row j*d/2 + i of
// the Hugging Face tensor becomes row 2i + j.
at::Tensor expected_permutation(const at::Tensor& hf, int64_t heads) {
  const int64_t rows = hf.size(0);
  const int64_t d = rows / heads;
  at::Tensor out = at::empty_like(hf);
  for (int64_t h = 0; h < heads; ++h) {
    for (int64_t i = 0; i < d / 2; ++i) {
      for (int64_t j = 0; j < 2; ++j)
        out[h * d + 2 * i + j] = hf[h * d + j * (d / 2) + i];
    }
  }
  return out;
}

std::vector<std::string> tensor_names(const GgufFile& file) {
  std::vector<std::string> names;
  for (const auto& info : file.tensors())
    names.push_back(info.name);
  return names;
}

// ------------------------------------------------------------------------- every family

TEST(GgufExport, EveryFamilyNamesShapesTypesAndHyperparameters) {
  struct Case {
    const char* arch;
    const char* gguf_arch;
    bool permuted;
  };
  for (const Case c :
       {Case{"LlamaForCausalLM", "llama", true}, Case{"MistralForCausalLM", "llama", true},
        Case{"Qwen2ForCausalLM", "qwen2", false}, Case{"Qwen3ForCausalLM", "qwen3", false}}) {
    SCOPED_TRACE(c.arch);
    TempDir dir;
    const std::string model = write_model(dir, small(c.arch));
    const auto file = convert(model, dir.file("m.gguf"), "f16");
    const std::string a = c.gguf_arch;
    EXPECT_EQ(file->version(), 3u);
    EXPECT_EQ(file->get_string("general.architecture"), a);
    EXPECT_EQ(file->get_string("general.type"), "model");
    EXPECT_EQ(file->get_string("general.name"), "m");
    EXPECT_EQ(file->get_u32("general.alignment"), 32u);
    EXPECT_EQ(file->get_u32("general.file_type"), 1u);  // MOSTLY_F16
    EXPECT_EQ(file->get_u32("general.quantization_version"), 2u);
    EXPECT_EQ(file->get_u32(a + ".block_count"), 2u);
    EXPECT_EQ(file->get_u32(a + ".context_length"), 2048u);
    EXPECT_EQ(file->get_u32(a + ".embedding_length"), 64u);
    EXPECT_EQ(file->get_u32(a + ".feed_forward_length"), 128u);
    EXPECT_EQ(file->get_u32(a + ".attention.head_count"), 4u);
    EXPECT_EQ(file->get_u32(a + ".attention.head_count_kv"), 2u);
    EXPECT_EQ(file->get_f32(a + ".rope.freq_base"), 10000.0f);
    EXPECT_EQ(file->get_f32(a + ".attention.layer_norm_rms_epsilon"), 1e-6f);
    // Random models write head_dim explicitly, and the converter then writes key/value lengths.
    EXPECT_EQ(file->get_u32(a + ".attention.key_length"), 16u);
    EXPECT_EQ(file->get_u32(a + ".attention.value_length"), 16u);
    // Only the converter's LlamaModel writes these two.
    EXPECT_EQ(file->contains(a + ".vocab_size"), c.permuted);
    EXPECT_EQ(file->contains(a + ".rope.dimension_count"), c.permuted);
    if (c.permuted) {
      EXPECT_EQ(file->get_u32(a + ".vocab_size"), 260u);
      EXPECT_EQ(file->get_u32(a + ".rope.dimension_count"), 16u);
    }
    EXPECT_FALSE(file->contains(a + ".rope.scaling.type"));

    std::vector<std::string> expected = {"token_embd.weight"};
    for (int layer = 0; layer < 2; ++layer) {
      const std::string p = "blk." + std::to_string(layer) + ".";
      expected.push_back(p + "attn_norm.weight");
      for (const char* part : {"attn_q", "attn_k", "attn_v"}) {
        expected.push_back(p + part + ".weight");
        if (a == "qwen2") expected.push_back(p + part + ".bias");
      }
      expected.push_back(p + "attn_output.weight");
      if (a == "qwen3") {
        expected.push_back(p + "attn_q_norm.weight");
        expected.push_back(p + "attn_k_norm.weight");
      }
      for (const char* part : {"ffn_norm", "ffn_gate", "ffn_up", "ffn_down"})
        expected.push_back(p + part + ".weight");
    }
    expected.push_back("output_norm.weight");
    expected.push_back("output.weight");
    EXPECT_EQ(tensor_names(*file), expected);

    // Shapes in ggml order (columns first); matrices in the outtype, the rest f32.
    EXPECT_EQ(file->tensor("token_embd.weight").dims, (std::vector<int64_t>{64, 260}));
    EXPECT_EQ(file->tensor("output.weight").dims, (std::vector<int64_t>{64, 260}));
    EXPECT_EQ(file->tensor("blk.0.attn_q.weight").dims, (std::vector<int64_t>{64, 64}));
    EXPECT_EQ(file->tensor("blk.0.attn_k.weight").dims, (std::vector<int64_t>{64, 32}));
    EXPECT_EQ(file->tensor("blk.1.ffn_down.weight").dims, (std::vector<int64_t>{128, 64}));
    EXPECT_EQ(file->tensor("blk.1.ffn_up.weight").dims, (std::vector<int64_t>{64, 128}));
    EXPECT_EQ(file->tensor("blk.0.attn_norm.weight").dims, (std::vector<int64_t>{64}));
    for (const auto& info : file->tensors()) {
      const bool matrix = info.dims.size() == 2;
      EXPECT_EQ(info.type, matrix ? GgmlType::F16 : GgmlType::F32) << info.name;
    }
    if (a == "qwen3") {
      EXPECT_EQ(file->tensor("blk.1.attn_k_norm.weight").dims, (std::vector<int64_t>{16}));
    }

    // Data: the source tensors, converted, and permuted for llama.
    const auto checkpoint = slim::io::SafetensorsCheckpoint::open(model);
    const at::Tensor q = checkpoint.tensor("model.layers.1.self_attn.q_proj.weight").to(at::kHalf);
    const at::Tensor k = checkpoint.tensor("model.layers.1.self_attn.k_proj.weight").to(at::kHalf);
    EXPECT_TRUE(at::equal(gguf_tensor(*file, "blk.1.attn_q.weight"),
                          c.permuted ? expected_permutation(q, 4) : q));
    EXPECT_TRUE(at::equal(gguf_tensor(*file, "blk.1.attn_k.weight"),
                          c.permuted ? expected_permutation(k, 2) : k));
    if (c.permuted) {
      EXPECT_FALSE(at::equal(gguf_tensor(*file, "blk.1.attn_q.weight"), q));
    }
    EXPECT_TRUE(
        at::equal(gguf_tensor(*file, "blk.0.attn_v.weight"),
                  checkpoint.tensor("model.layers.0.self_attn.v_proj.weight").to(at::kHalf)));
    EXPECT_TRUE(at::equal(gguf_tensor(*file, "output_norm.weight"),
                          checkpoint.tensor("model.norm.weight").to(at::kFloat)));
    if (a == "qwen2") {
      EXPECT_TRUE(
          at::equal(gguf_tensor(*file, "blk.0.attn_k.bias"),
                    checkpoint.tensor("model.layers.0.self_attn.k_proj.bias").to(at::kFloat)));
    }
  }
}

TEST(GgufExport, RandomModelTokenizerAsGpt2) {
  TempDir dir;
  const auto file = convert(write_model(dir, small("Qwen3ForCausalLM")), dir.file("m.gguf"));
  EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(file->get_string("tokenizer.ggml.pre"), "gpt-2");
  const auto tokens = file->get_array_strings("tokenizer.ggml.tokens");
  ASSERT_EQ(tokens.size(), 260u);  // padded to the config's vocab_size
  EXPECT_EQ(tokens[65], "A");
  EXPECT_EQ(tokens[32], "\xC4\xA0");  // GPT-2's byte map: space is U+0120
  EXPECT_EQ(tokens[256], "<|bos|>");
  EXPECT_EQ(tokens[259], "[PAD259]");
  const auto types = file->get_array_i32("tokenizer.ggml.token_type");
  EXPECT_EQ(types[65], kNormal);
  EXPECT_EQ(types[256], kControl);
  EXPECT_EQ(types[257], kControl);
  EXPECT_EQ(types[258], kUnused);
  EXPECT_EQ(file->array_size("tokenizer.ggml.merges"), 0u);  // present: llama.cpp needs the key
  EXPECT_FALSE(file->contains("tokenizer.ggml.scores"));
  EXPECT_EQ(file->get_u32("tokenizer.ggml.bos_token_id"), 256u);
  EXPECT_EQ(file->get_u32("tokenizer.ggml.eos_token_id"), 257u);
  EXPECT_TRUE(file->get_bool("tokenizer.ggml.add_bos_token"));  // the post-processor adds BOS
  EXPECT_FALSE(file->contains("tokenizer.ggml.add_eos_token"));
}

TEST(GgufExport, OuttypesAndFileTypes) {
  TempDir dir;
  const std::string model = write_model(dir, small("LlamaForCausalLM"));  // bf16 weights
  const auto checkpoint = slim::io::SafetensorsCheckpoint::open(model);
  const at::Tensor embedding = checkpoint.tensor("model.embed_tokens.weight");
  struct Case {
    const char* outtype;
    GgmlType type;
    uint32_t file_type;
  };
  for (const Case c : {Case{"auto", GgmlType::BF16, 32}, Case{"bf16", GgmlType::BF16, 32},
                       Case{"f16", GgmlType::F16, 1}, Case{"f32", GgmlType::F32, 0}}) {
    SCOPED_TRACE(c.outtype);
    const auto file = convert(model, dir.file(std::string(c.outtype) + ".gguf"), c.outtype);
    EXPECT_EQ(file->get_u32("general.file_type"), c.file_type);
    EXPECT_EQ(file->tensor("token_embd.weight").type, c.type);
    EXPECT_EQ(file->tensor("blk.0.ffn_norm.weight").type, GgmlType::F32);
    const at::Tensor written = gguf_tensor(*file, "token_embd.weight");
    EXPECT_TRUE(at::equal(written, embedding.to(written.scalar_type())));
  }
  // auto: f16 checkpoints stay f16, f32 ones become f16 (as the converter guesses).
  for (const auto dtype : {c10::kHalf, c10::kFloat}) {
    auto options = small("LlamaForCausalLM");
    options.dtype = dtype;
    const std::string name = dtype == c10::kHalf ? "half" : "float";
    const auto file =
        convert(write_model(dir, options, json::object(), name), dir.file(name + ".gguf"));
    EXPECT_EQ(file->get_u32("general.file_type"), 1u) << name;
  }
}

TEST(GgufExport, TiedEmbeddingsHaveNoOutputTensor) {
  TempDir dir;
  auto options = small("Qwen3ForCausalLM");
  options.tie_word_embeddings = true;
  const auto file = convert(write_model(dir, options), dir.file("m.gguf"));
  EXPECT_FALSE(file->has_tensor("output.weight"));
  EXPECT_TRUE(file->has_tensor("token_embd.weight"));
}

TEST(GgufExport, ExplicitHeadDimAndGqa) {
  TempDir dir;
  auto options = small("LlamaForCausalLM");
  options.num_attention_heads = 8;
  options.num_key_value_heads = 2;
  options.head_dim = 32;  // 8 x 32 = 256 != hidden 64
  const std::string model = write_model(dir, options);
  const auto file = convert(model, dir.file("m.gguf"), "f32");
  EXPECT_EQ(file->get_u32("llama.attention.key_length"), 32u);
  EXPECT_EQ(file->get_u32("llama.rope.dimension_count"), 32u);
  EXPECT_EQ(file->tensor("blk.0.attn_q.weight").dims, (std::vector<int64_t>{64, 256}));
  EXPECT_EQ(file->tensor("blk.0.attn_output.weight").dims, (std::vector<int64_t>{256, 64}));
  const auto checkpoint = slim::io::SafetensorsCheckpoint::open(model);
  const at::Tensor k = checkpoint.tensor("model.layers.0.self_attn.k_proj.weight").to(at::kFloat);
  EXPECT_TRUE(at::equal(gguf_tensor(*file, "blk.0.attn_k.weight"), expected_permutation(k, 2)));
}

TEST(GgufExport, QkvBiasesArePermutedLikeTheirWeights) {
  // A Llama with attention_bias: the converter permutes q_proj.bias and k_proj.bias too.
  TempDir dir;
  const std::string model = write_model(dir, small("LlamaForCausalLM"), {{"attention_bias", true}});
  {
    // Add the bias tensors the edited config calls for.
    const auto checkpoint = slim::io::SafetensorsCheckpoint::open(model);
    fs::create_directories(dir.file("with-bias"));
    slim::io::SafetensorsWriter writer(dir.file("with-bias"));
    for (const auto& name : checkpoint.names())
      writer.add(name, checkpoint.tensor(name));
    auto generator = at::make_generator<at::CPUGeneratorImpl>(3);
    for (int layer = 0; layer < 2; ++layer) {
      const std::string p = "model.layers." + std::to_string(layer) + ".self_attn.";
      writer.add(p + "q_proj.bias", at::randn({64}, generator, at::kFloat));
      writer.add(p + "k_proj.bias", at::randn({32}, generator, at::kFloat));
      writer.add(p + "v_proj.bias", at::randn({32}, generator, at::kFloat));
      writer.add(p + "o_proj.bias", at::randn({64}, generator, at::kFloat));
    }
    writer.finish();
  }
  fs::remove(model + "/model.safetensors");
  fs::rename(dir.file("with-bias") + "/model.safetensors", model + "/model.safetensors");
  const auto file = convert(model, dir.file("m.gguf"));
  const auto checkpoint = slim::io::SafetensorsCheckpoint::open(model);
  const at::Tensor qb = checkpoint.tensor("model.layers.1.self_attn.q_proj.bias");
  const at::Tensor kb = checkpoint.tensor("model.layers.1.self_attn.k_proj.bias");
  EXPECT_TRUE(at::equal(gguf_tensor(*file, "blk.1.attn_q.bias"), expected_permutation(qb, 4)));
  EXPECT_TRUE(at::equal(gguf_tensor(*file, "blk.1.attn_k.bias"), expected_permutation(kb, 2)));
  EXPECT_TRUE(at::equal(gguf_tensor(*file, "blk.1.attn_v.bias"),
                        checkpoint.tensor("model.layers.1.self_attn.v_proj.bias")));
  EXPECT_EQ(file->tensor("blk.1.attn_output.bias").type, GgmlType::F32);
}

// ------------------------------------------------------------------------------ rope scaling

TEST(GgufExport, Llama3RopeFreqsTensor) {
  TempDir dir;
  const json rope = {{"rope_type", "llama3"},
                     {"factor", 8.0},
                     {"low_freq_factor", 1.0},
                     {"high_freq_factor", 4.0},
                     {"original_max_position_embeddings", 64}};
  auto options = small("LlamaForCausalLM");
  options.head_dim = 32;
  options.num_attention_heads = 2;
  options.num_key_value_heads = 1;
  const auto file =
      convert(write_model(dir, options, {{"rope_scaling", rope}}), dir.file("m.gguf"));
  EXPECT_FALSE(file->contains("llama.rope.scaling.type"));  // llama3 travels as a tensor
  ASSERT_EQ(file->tensors()[0].name, "rope_freqs.weight");
  const auto& info = file->tensor("rope_freqs.weight");
  EXPECT_EQ(info.type, GgmlType::F32);
  ASSERT_EQ(info.dims, (std::vector<int64_t>{16}));
  std::vector<float> factors(16);
  std::memcpy(factors.data(), file->tensor_data(info), 64);
  // Independently, in double: wavelength 2 pi / theta^(-2i/d) against 64 / 4 and 64 / 1.
  int smooth = 0, scaled = 0, kept = 0;
  for (int i = 0; i < 16; ++i) {
    const double wavelen = 2 * M_PI / std::pow(10000.0, -2.0 * i / 32);
    double expected;
    if (wavelen < 64.0 / 4.0) {
      expected = 1.0;
      ++kept;
    } else if (wavelen > 64.0) {
      expected = 8.0;
      ++scaled;
    } else {
      const double s = (64.0 / wavelen - 1.0) / (4.0 - 1.0);
      expected = 1.0 / ((1 - s) / 8.0 + s);
      ++smooth;
    }
    EXPECT_NEAR(factors[i], expected, 1e-5 * expected) << i;
  }
  EXPECT_GT(kept, 0);  // the case exercises all three regimes
  EXPECT_GT(scaled, 0);
  EXPECT_GT(smooth, 0);
}

TEST(GgufExport, LinearAndYarnRopeScalingKeys) {
  TempDir dir;
  {
    const auto file =
        convert(write_model(dir, small("LlamaForCausalLM"),
                            {{"rope_scaling", {{"rope_type", "linear"}, {"factor", 4.0}}}}, "lin"),
                dir.file("lin.gguf"));
    EXPECT_EQ(file->get_string("llama.rope.scaling.type"), "linear");
    EXPECT_EQ(file->get_f32("llama.rope.scaling.factor"), 4.0f);
    EXPECT_FALSE(file->has_tensor("rope_freqs.weight"));
  }
  {
    const json rope = {{"type", "yarn"},  // the older spelling
                       {"factor", 4.0},
                       {"original_max_position_embeddings", 64},
                       {"beta_fast", 16.0}};
    const auto file =
        convert(write_model(dir, small("Qwen2ForCausalLM"), {{"rope_scaling", rope}}, "yarn"),
                dir.file("yarn.gguf"));
    EXPECT_EQ(file->get_string("qwen2.rope.scaling.type"), "yarn");
    EXPECT_EQ(file->get_f32("qwen2.rope.scaling.factor"), 4.0f);
    EXPECT_EQ(file->get_u32("qwen2.rope.scaling.original_context_length"), 64u);
    EXPECT_EQ(file->get_f32("qwen2.rope.scaling.yarn_beta_fast"), 16.0f);
    // Only what config.json states is written, as the converter does.
    EXPECT_FALSE(file->contains("qwen2.rope.scaling.yarn_beta_slow"));
    EXPECT_FALSE(file->contains("qwen2.rope.scaling.yarn_attn_factor"));
  }
}

TEST(GgufExport, PermuteRopeRowsMatchesTheIndexFormula) {
  const at::Tensor w = at::arange(24, at::kFloat).reshape({8, 3});
  EXPECT_TRUE(at::equal(slim::exporter::permute_rope_rows(w, 2), expected_permutation(w, 2)));
  const at::Tensor b = at::arange(8, at::kFloat);
  EXPECT_TRUE(at::equal(slim::exporter::permute_rope_rows(b, 1),
                        at::tensor(std::vector<float>{0, 4, 1, 5, 2, 6, 3, 7})));
}

TEST(GgufExport, TensorNameMapping) {
  using slim::exporter::gguf_tensor_name;
  EXPECT_EQ(gguf_tensor_name("model.embed_tokens.weight"), "token_embd.weight");
  EXPECT_EQ(gguf_tensor_name("lm_head.weight"), "output.weight");
  EXPECT_EQ(gguf_tensor_name("model.norm.weight"), "output_norm.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.12.self_attn.o_proj.bias"), "blk.12.attn_output.bias");
  EXPECT_EQ(gguf_tensor_name("model.layers.0.self_attn.k_norm.weight"), "blk.0.attn_k_norm.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.3.post_attention_layernorm.weight"),
            "blk.3.ffn_norm.weight");
  EXPECT_EQ(gguf_tensor_name("model.layers.3.mlp.gate_proj.weight"), "blk.3.ffn_gate.weight");
  EXPECT_FALSE(gguf_tensor_name("model.layers.3.mlp.experts.0.w1.weight").has_value());
}

// ---------------------------------------------------------------------- pre-tokenizers

json byte_level(bool use_regex) {
  return {{"type", "ByteLevel"},
          {"add_prefix_space", false},
          {"trim_offsets", true},
          {"use_regex", use_regex}};
}

json split_then_byte_level(const std::string& regex) {
  return {{"type", "Sequence"},
          {"pretokenizers",
           {{{"type", "Split"},
             {"pattern", {{"Regex", regex}}},
             {"behavior", "Isolated"},
             {"invert", false}},
            byte_level(false)}}};
}

const char* const kLlama3 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";
const char* const kQwen2 =
    R"((?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+)";

TEST(GgufPreTokenizer, RecognisesGpt2Llama3AndQwen2) {
  using slim::exporter::recognise_pre_tokenizer;
  json t = {{"model", {{"type", "BPE"}}}, {"normalizer", nullptr}};
  t["pre_tokenizer"] = byte_level(true);
  EXPECT_EQ(recognise_pre_tokenizer(t, "t.json"), "gpt-2");
  t["pre_tokenizer"] = split_then_byte_level(kQwen2);
  t["normalizer"] = {{"type", "NFC"}};
  EXPECT_EQ(recognise_pre_tokenizer(t, "t.json"), "qwen2");
  t["pre_tokenizer"] = split_then_byte_level(kLlama3);
  t["normalizer"] = nullptr;
  t["model"]["ignore_merges"] = true;
  std::string reason;
  EXPECT_EQ(recognise_pre_tokenizer(t, "t.json", &reason), "llama-bpe");
  EXPECT_NE(reason.find("Llama 3"), std::string::npos) << reason;
  EXPECT_EQ(slim::exporter::recognised_pre_tokenizers(),
            (std::vector<std::string>{"gpt-2", "llama-bpe", "qwen2"}));
}

TEST(GgufPreTokenizer, UnknownRegexIsRefusedWithTheRecognisedList) {
  json t = {{"model", {{"type", "BPE"}}},
            {"pre_tokenizer", split_then_byte_level(R"(\p{N}+|\p{L}+)")}};
  EXPECT_ERROR_WITH(slim::exporter::recognise_pre_tokenizer(t, "tok.json"), "tok.json",
                    "pre-tokenizer not recognised", "split regex", "gpt-2", "llama-bpe", "qwen2",
                    "--gguf_pre");
}

TEST(GgufPreTokenizer, OtherStructuresAreRefused) {
  json t = {{"model", {{"type", "BPE"}}},
            {"pre_tokenizer", {{"type", "Metaspace"}, {"replacement", "_"}}}};
  EXPECT_ERROR_WITH(slim::exporter::recognise_pre_tokenizer(t, "tok.json"), "tok.json", "Metaspace",
                    "--gguf_pre");
}

TEST(GgufPreTokenizer, PrefixSpaceIsRefused) {
  json t = {{"model", {{"type", "BPE"}}}, {"pre_tokenizer", byte_level(true)}};
  t["pre_tokenizer"]["add_prefix_space"] = true;
  EXPECT_ERROR_WITH(slim::exporter::recognise_pre_tokenizer(t, "tok.json"),
                    "pre-tokenizer not recognised", "without a prefix space");
}

TEST(GgufPreTokenizer, OtherNormalizersAreRefused) {
  json t = {{"model", {{"type", "BPE"}}},
            {"normalizer", {{"type", "Lowercase"}}},
            {"pre_tokenizer", byte_level(true)}};
  EXPECT_ERROR_WITH(slim::exporter::recognise_pre_tokenizer(t, "tok.json"), "normalizer",
                    "Lowercase", "expected none or NFC");
}

TEST(GgufPreTokenizer, Llama3RegexWithoutIgnoreMergesIsRefused) {
  json t = {{"model", {{"type", "BPE"}, {"ignore_merges", false}}},
            {"pre_tokenizer", split_then_byte_level(kLlama3)}};
  EXPECT_ERROR_WITH(slim::exporter::recognise_pre_tokenizer(t, "tok.json"),
                    "ignore_merges is false", "'llama-bpe' assumes true");
}

// ----------------------------------------------------------------------- real tokenizers

// A random model of `arch` whose tokenizer files are replaced by an asset's.
std::string model_with_tokenizer(const TempDir& dir, const std::string& arch, int64_t vocab,
                                 const std::string& tokenizer_dir) {
  slim::model::RandomModelOptions options;
  options.architecture = arch;
  options.vocab_size = vocab;
  options.hidden_size = 32;
  options.intermediate_size = 64;
  options.num_hidden_layers = 1;
  options.num_attention_heads = 2;
  options.num_key_value_heads = 1;
  const std::string model = write_model(dir, options);
  for (const char* name : {"tokenizer.json", "tokenizer_config.json"})
    fs::copy_file(tokenizer_dir + "/" + name, model + "/" + name,
                  fs::copy_options::overwrite_existing);
  return model;
}

TEST(GgufExportAssets, Qwen3TokenizerIsQwen2Pre) {
  SLIM_ASSET_OR_SKIP(tokenizer, "tokenizer-qwen3/package/models/tokenizer.json");
  TempDir dir;
  const std::string model = model_with_tokenizer(dir, "Qwen3ForCausalLM", 151936,
                                                 fs::path(tokenizer).parent_path().string());
  const auto file = convert(model, dir.file("m.gguf"));
  EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(file->get_string("tokenizer.ggml.pre"), "qwen2");
  const auto tokens = file->get_array_strings("tokenizer.ggml.tokens");
  const auto types = file->get_array_i32("tokenizer.ggml.token_type");
  ASSERT_EQ(tokens.size(), 151936u);
  EXPECT_EQ(tokens[151643], "<|endoftext|>");
  EXPECT_EQ(types[151643], kControl);
  EXPECT_EQ(tokens[151667], "<think>");  // added, not special, looks ordinary
  EXPECT_EQ(types[151667], kUserDefined);
  EXPECT_EQ(tokens[151700], "[PAD151700]");
  EXPECT_EQ(types[151700], kUnused);
  EXPECT_EQ(file->array_size("tokenizer.ggml.merges"), 151387u);
  EXPECT_EQ(file->get_array_strings("tokenizer.ggml.merges")[0], "\xC4\xA0 \xC4\xA0");
  EXPECT_EQ(file->get_u32("tokenizer.ggml.eos_token_id"), 151645u);      // <|im_end|>
  EXPECT_EQ(file->get_u32("tokenizer.ggml.padding_token_id"), 151643u);  // <|endoftext|>
  EXPECT_FALSE(file->get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_NE(file->get_string("tokenizer.chat_template").find("<|im_start|>"), std::string::npos);
}

TEST(GgufExportAssets, Llama3TokenizerIsLlamaBpe) {
  SLIM_ASSET_OR_SKIP(tokenizer, "tokenizer-llama3/package/models/tokenizer.json");
  TempDir dir;
  const std::string model = model_with_tokenizer(dir, "LlamaForCausalLM", 128256,
                                                 fs::path(tokenizer).parent_path().string());
  const auto file = convert(model, dir.file("m.gguf"));
  EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "gpt2");
  EXPECT_EQ(file->get_string("tokenizer.ggml.pre"), "llama-bpe");
  EXPECT_EQ(file->get_u32("tokenizer.ggml.bos_token_id"), 128000u);
  EXPECT_EQ(file->get_u32("tokenizer.ggml.eos_token_id"), 128001u);
  // This copy of Meta's tokenizer.json adds no BOS; llama-bpe would, unless told.
  EXPECT_FALSE(file->get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_EQ(file->array_size("tokenizer.ggml.merges"), 280147u);
}

TEST(GgufExportAssets, MistralTokenizerJsonAsSentencePieceWithMergeOrderScores) {
  // A SentencePiece-style tokenizer.json (BPE, byte fallback): tokenizer "llama", pre "default",
  // scores from the merge order. Read back as a SentencePiece model, the GGUF vocabulary must
  // encode text exactly as the tokenizer.json does.
  SLIM_ASSET_OR_SKIP(tokenizer, "tokenizer-mistral/package/models/tokenizer.json");
  SLIM_ASSET_OR_SKIP(text_path, "sotu/package/data/1790_george_washington_n.txt");
  TempDir dir;
  const std::string model = model_with_tokenizer(dir, "MistralForCausalLM", 32000,
                                                 fs::path(tokenizer).parent_path().string());
  const auto file = convert(model, dir.file("m.gguf"));
  EXPECT_EQ(file->get_string("tokenizer.ggml.model"), "llama");
  EXPECT_EQ(file->get_string("tokenizer.ggml.pre"), "default");
  EXPECT_FALSE(file->contains("tokenizer.ggml.merges"));
  const auto types = file->get_array_i32("tokenizer.ggml.token_type");
  ASSERT_EQ(types.size(), 32000u);
  EXPECT_EQ(types[0], kControl);  // <unk>, a special token of tokenizer_config.json
  EXPECT_EQ(types[1], kControl);  // <s>
  EXPECT_EQ(types[3], kByte);     // <0x00>
  EXPECT_EQ(types[1000], kNormal);
  EXPECT_EQ(file->get_u32("tokenizer.ggml.bos_token_id"), 1u);
  EXPECT_EQ(file->get_u32("tokenizer.ggml.eos_token_id"), 2u);
  EXPECT_EQ(file->get_u32("tokenizer.ggml.unknown_token_id"), 0u);
  EXPECT_TRUE(file->get_bool("tokenizer.ggml.add_bos_token"));
  EXPECT_FALSE(file->get_bool("tokenizer.ggml.add_eos_token"));

  const auto from_gguf =
      slim::io::make_sentencepiece_tokenizer(slim::io::sentencepiece_model_from_gguf(*file));
  const auto reference = slim::io::load_tokenizer(tokenizer);
  const std::string data_dir = fs::path(text_path).parent_path().string();
  size_t compared = 0;
  for (const char* name : {"1790_george_washington_n.txt", "1862_abraham_lincoln_r.txt",
                           "1961_john_f_kennedy_d.txt", "2016_barack_obama_d.txt"}) {
    const std::string path = data_dir + "/" + name;
    if (!fs::exists(path)) continue;
    const std::string text = slim::read_file(path);
    const auto ids = reference->encode(text, false);
    ASSERT_EQ(from_gguf->encode(text, false), ids) << name;
    compared += ids.size();
    // Sentence by sentence too (text starts are where the dummy prefix applies).
    for (size_t start = 0; start < text.size();) {
      size_t end = text.find(". ", start);
      end = end == std::string::npos ? text.size() : end + 1;
      const std::string sentence = text.substr(start, end - start);
      ASSERT_EQ(from_gguf->encode(sentence, false), reference->encode(sentence, false)) << sentence;
      start = end;
    }
  }
  EXPECT_GT(compared, 5000u);
}

// ---------------------------------------------------------------------------- bad input

TEST(GgufExportErrors, UnsupportedArchitecture) {
  TempDir dir;
  const std::string model =
      write_model(dir, small("LlamaForCausalLM"), {{"architectures", {"GPT2LMHeadModel"}}});
  EXPECT_ERROR_WITH(convert(model, dir.file("m.gguf")), "config.json",
                    "architecture 'GPT2LMHeadModel'", "cannot be exported to GGUF",
                    "LlamaForCausalLM, MistralForCausalLM, Qwen2ForCausalLM, Qwen3ForCausalLM");
  EXPECT_FALSE(fs::exists(dir.file("m.gguf")));
}

TEST(GgufExportErrors, UnknownOuttype) {
  TempDir dir;
  const std::string model = write_model(dir, small("LlamaForCausalLM"));
  EXPECT_ERROR_WITH(convert(model, dir.file("m.gguf"), "q4_0"), "--outtype", "'q4_0'",
                    "auto, f32, f16 or bf16");
}

TEST(GgufExportErrors, UnknownPreTokenizerNamesTheFileAndTheWayOut) {
  TempDir dir;
  const std::string model = write_model(dir, small("Qwen2ForCausalLM"));
  json tokenizer = json::parse(slim::read_file(model + "/tokenizer.json"));
  tokenizer["pre_tokenizer"] = split_then_byte_level(R"(\p{L}+|\p{N}+|[^\p{L}\p{N}]+)");
  slim::write_file(model + "/tokenizer.json", tokenizer.dump());
  EXPECT_ERROR_WITH(convert(model, dir.file("m.gguf")), model + "/tokenizer.json",
                    "pre-tokenizer not recognised", "gpt-2", "--gguf_pre");
  EXPECT_FALSE(fs::exists(dir.file("m.gguf")));
  // With an explicit name the export goes through.
  GgufExportOptions options;
  options.model_path = model;
  options.save_path = dir.file("m.gguf");
  options.pre_tokenizer = "stablelm2";
  export_gguf(options);
  EXPECT_EQ(GgufFile::open(dir.file("m.gguf"))->get_string("tokenizer.ggml.pre"), "stablelm2");
}

TEST(GgufExportErrors, ExistingOutputIsRefusedUnlessOverwrite) {
  TempDir dir;
  const std::string model = write_model(dir, small("LlamaForCausalLM"));
  slim::write_file(dir.file("m.gguf"), "keep me");
  EXPECT_ERROR_WITH(convert(model, dir.file("m.gguf")), "m.gguf", "exists", "--overwrite");
  EXPECT_EQ(slim::read_file(dir.file("m.gguf")), "keep me");
  GgufExportOptions options;
  options.model_path = model;
  options.save_path = dir.file("m.gguf");
  options.overwrite = true;
  export_gguf(options);
  EXPECT_EQ(GgufFile::open(dir.file("m.gguf"))->get_string("general.architecture"), "llama");
}

TEST(GgufExportErrors, MissingTensor) {
  TempDir dir;
  const std::string model = write_model(dir, small("Qwen2ForCausalLM"));
  {
    const auto checkpoint = slim::io::SafetensorsCheckpoint::open(model);
    fs::create_directories(dir.file("partial"));
    slim::io::SafetensorsWriter writer(dir.file("partial"));
    for (const auto& name : checkpoint.names()) {
      if (name != "model.layers.1.self_attn.v_proj.bias") writer.add(name, checkpoint.tensor(name));
    }
    writer.finish();
  }
  fs::rename(dir.file("partial") + "/model.safetensors", model + "/model.safetensors");
  EXPECT_ERROR_WITH(convert(model, dir.file("m.gguf")), "'model.layers.1.self_attn.v_proj.bias'",
                    "missing");
}

TEST(GgufExportErrors, UnmappedTensor) {
  TempDir dir;
  const std::string model = write_model(dir, small("LlamaForCausalLM"));
  {
    const auto checkpoint = slim::io::SafetensorsCheckpoint::open(model);
    fs::create_directories(dir.file("extra"));
    slim::io::SafetensorsWriter writer(dir.file("extra"));
    for (const auto& name : checkpoint.names())
      writer.add(name, checkpoint.tensor(name));
    writer.add("model.layers.0.mlp.router.weight", at::zeros({4, 64}));
    writer.finish();
  }
  fs::rename(dir.file("extra") + "/model.safetensors", model + "/model.safetensors");
  EXPECT_ERROR_WITH(convert(model, dir.file("m.gguf")), "'model.layers.0.mlp.router.weight'",
                    "no llama.cpp name");
}

TEST(GgufExportErrors, NoTokenizer) {
  TempDir dir;
  const std::string model = write_model(dir, small("LlamaForCausalLM"));
  fs::remove(model + "/tokenizer.json");
  EXPECT_ERROR_WITH(convert(model, dir.file("m.gguf")), "no tokenizer.json or tokenizer.model");
}

// ------------------------------------------------------------------------------------ CLI

TEST(GgufExportCli, ConvertWritesAndReportsErrors) {
  TempDir dir;
  const std::string model = write_model(dir, small("Qwen3ForCausalLM"));
  const std::string out = dir.file("m.gguf");
  auto result = slim::testing::run_slim(
      "convert --model_path '" + model + "' --format gguf --outtype bf16 --save_path '" + out + "'",
      dir.file("err"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("GGUF qwen3, bf16, 25 tensors, tokenizer gpt2 (pre gpt-2)"),
            std::string::npos)
      << result.out;
  EXPECT_EQ(GgufFile::open(out)->get_u32("general.file_type"), 32u);

  result = slim::testing::run_slim(
      "convert --model_path '" + model + "' --format gguf --save_path '" + out + "'",
      dir.file("err"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("exists (pass --overwrite"), std::string::npos) << result.err;

  result = slim::testing::run_slim("convert --model_path '" + model +
                                       "' --format gguf --overwrite --outtype q2 --save_path '" +
                                       out + "'",
                                   dir.file("err"));
  EXPECT_EQ(result.exit_code, 2);
  EXPECT_NE(result.err.find("--outtype: unknown type 'q2'"), std::string::npos) << result.err;

  result = slim::testing::run_slim("convert --model_path '" + model +
                                       "' --format gguf --overwrite --gguf_pre qwen2 "
                                       "--gguf_name tiny --save_path '" +
                                       out + "'",
                                   dir.file("err"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  const auto file = GgufFile::open(out);
  EXPECT_EQ(file->get_string("tokenizer.ggml.pre"), "qwen2");
  EXPECT_EQ(file->get_string("general.name"), "tiny");
}

}  // namespace
