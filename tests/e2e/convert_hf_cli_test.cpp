// Whole-CLI runs of `slim convert --format hf` (GGUF import): output files, options, and the
// errors a user sees.
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include "slim/core/files.h"
#include "slim/io/safetensors.h"
#include "support/assets.h"
#include "support/gguf_builder.h"
#include "support/run_cli.h"
#include "support/temp_dir.h"

namespace {

using slim::io::GgmlType;
using slim::testing::run_slim;
using slim::testing::TempDir;
namespace fs = std::filesystem;

// A one-layer qwen3 GGUF: all F32 except ffn_up (Q8_0, scale 0.5, quants 0..31 per row).
std::string write_qwen3(const TempDir& dir) {
  const int64_t vocab = 16, hidden = 32, ff = 32, heads = 2, kv = 1, head_dim = 16;
  slim::testing::GgufBuilder gguf;
  gguf.kv_string("general.architecture", "qwen3")
      .kv_u32("qwen3.block_count", 1)
      .kv_u32("qwen3.context_length", 512)
      .kv_u32("qwen3.embedding_length", hidden)
      .kv_u32("qwen3.feed_forward_length", ff)
      .kv_u32("qwen3.attention.head_count", heads)
      .kv_u32("qwen3.attention.head_count_kv", kv)
      .kv_u32("qwen3.attention.key_length", head_dim)
      .kv_f32("qwen3.attention.layer_norm_rms_epsilon", 1e-6f)
      .kv_f32("qwen3.rope.freq_base", 1000000.0f);
  const auto f32 = [&](const std::string& name, std::vector<int64_t> dims) {
    int64_t n = 1;
    for (int64_t d : dims)
      n *= d;
    std::vector<float> values(static_cast<size_t>(n));
    for (int64_t i = 0; i < n; ++i)
      values[i] = 0.001f * static_cast<float>(i % 97);
    gguf.tensor(name, GgmlType::F32, dims, slim::testing::f32_bytes(values));
  };
  f32("token_embd.weight", {hidden, vocab});
  f32("blk.0.attn_norm.weight", {hidden});
  f32("blk.0.attn_q.weight", {hidden, heads * head_dim});
  f32("blk.0.attn_k.weight", {hidden, kv * head_dim});
  f32("blk.0.attn_v.weight", {hidden, kv * head_dim});
  f32("blk.0.attn_output.weight", {heads * head_dim, hidden});
  f32("blk.0.attn_q_norm.weight", {head_dim});
  f32("blk.0.attn_k_norm.weight", {head_dim});
  f32("blk.0.ffn_norm.weight", {hidden});
  f32("blk.0.ffn_gate.weight", {hidden, ff});
  std::string q8;
  for (int64_t r = 0; r < ff; ++r) {
    q8 += std::string("\x00\x38", 2);  // fp16 0.5
    for (int j = 0; j < 32; ++j)
      q8 += static_cast<char>(j);
  }
  gguf.tensor("blk.0.ffn_up.weight", GgmlType::Q8_0, {hidden, ff}, q8);
  f32("blk.0.ffn_down.weight", {ff, hidden});
  f32("output_norm.weight", {hidden});
  const std::string path = dir.file("qwen3.gguf");
  slim::write_file(path, gguf.build());
  return path;
}

TEST(ConvertHfCli, WritesAHuggingFaceDirectory) {
  TempDir dir;
  const std::string gguf = write_qwen3(dir);
  const std::string out = dir.file("hf");
  const auto result =
      run_slim("convert --model_path '" + gguf + "' --format hf --save_path '" + out + "'",
               dir.file("err.txt"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_NE(result.out.find("config.json generation_config.json model.safetensors"),
            std::string::npos)
      << result.out;
  EXPECT_NE(result.err.find("gguf import"), std::string::npos) << "progress display";
  const auto config = nlohmann::json::parse(slim::read_file(out + "/config.json"));
  EXPECT_EQ(config["architectures"][0], "Qwen3ForCausalLM");
  EXPECT_EQ(config["torch_dtype"], "bfloat16");
  EXPECT_EQ(config["tie_word_embeddings"], true);
  const auto checkpoint = slim::io::SafetensorsCheckpoint::open(out);
  const at::Tensor up = checkpoint.tensor("model.layers.0.mlp.up_proj.weight");
  EXPECT_EQ(up.scalar_type(), at::kBFloat16);
  EXPECT_EQ(up[3][7].item<float>(), 3.5f);  // quant 7 * 0.5
  EXPECT_FALSE(checkpoint.contains("lm_head.weight"));

  // The imported model runs: inspect finds no problems.
  const auto inspect = run_slim("inspect --json --model_path '" + out + "'", dir.file("e2"));
  EXPECT_EQ(inspect.exit_code, 0) << inspect.out << inspect.err;
}

TEST(ConvertHfCli, OuttypeAndShards) {
  TempDir dir;
  const std::string gguf = write_qwen3(dir);
  const std::string out = dir.file("hf");
  const auto result = run_slim("convert --model_path '" + gguf + "' --format hf --save_path '" +
                                   out + "' --outtype f32 --shard_size 4KB",
                               dir.file("err.txt"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::exists(out + "/model.safetensors.index.json"));
  const auto checkpoint = slim::io::SafetensorsCheckpoint::open(out);
  EXPECT_EQ(checkpoint.tensor("model.norm.weight").scalar_type(), at::kFloat);
}

TEST(ConvertHfCli, RefusesANonEmptyDirectoryWithoutOverwrite) {
  TempDir dir;
  const std::string gguf = write_qwen3(dir);
  const std::string out = dir.file("hf");
  fs::create_directories(out);
  slim::write_file(out + "/keep.txt", "x");
  const std::string command =
      "convert --model_path '" + gguf + "' --format hf --save_path '" + out + "'";
  const auto refused = run_slim(command, dir.file("err.txt"));
  EXPECT_EQ(refused.exit_code, 2);
  EXPECT_NE(refused.err.find("--overwrite"), std::string::npos) << refused.err;
  EXPECT_TRUE(fs::exists(out + "/keep.txt"));
  const auto replaced = run_slim(command + " --overwrite", dir.file("err.txt"));
  EXPECT_EQ(replaced.exit_code, 0) << replaced.err;
  EXPECT_FALSE(fs::exists(out + "/keep.txt"));
}

TEST(ConvertHfCli, VocabOnly) {
  SLIM_ASSET_OR_SKIP(vocab, "llama.cpp/models/ggml-vocab-llama-spm.gguf");
  TempDir dir;
  const auto result = run_slim("convert --model_path '" + vocab + "' --format hf --save_path '" +
                                   dir.file("tok") + "' --vocab_only",
                               dir.file("err.txt"));
  ASSERT_EQ(result.exit_code, 0) << result.err;
  EXPECT_TRUE(fs::exists(dir.file("tok/tokenizer.model")));
  const auto ids =
      run_slim("tokenize --model_path '" + dir.file("tok") + "' --text 'Hello world' --ids",
               dir.file("err2.txt"));
  EXPECT_EQ(ids.exit_code, 0) << ids.err;
}

TEST(ConvertHfCli, BadArguments) {
  TempDir dir;
  const std::string gguf = write_qwen3(dir);
  const auto outtype = run_slim("convert --model_path '" + gguf + "' --format hf --save_path '" +
                                    dir.file("a") + "' --outtype q4_0",
                                dir.file("err.txt"));
  EXPECT_EQ(outtype.exit_code, 2);
  EXPECT_NE(outtype.err.find("--outtype"), std::string::npos) << outtype.err;
  const auto shard = run_slim("convert --model_path '" + gguf + "' --format hf --save_path '" +
                                  dir.file("b") + "' --shard_size 3XB",
                              dir.file("err.txt"));
  EXPECT_EQ(shard.exit_code, 2);
  EXPECT_NE(shard.err.find("--shard_size"), std::string::npos) << shard.err;
  const auto missing = run_slim("convert --model_path '" + dir.file("none.gguf") +
                                    "' --format hf --save_path '" + dir.file("c") + "'",
                                dir.file("err.txt"));
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("none.gguf"), std::string::npos) << missing.err;
  EXPECT_FALSE(fs::exists(dir.file("a")));
  EXPECT_FALSE(fs::exists(dir.file("c")));
}

}  // namespace
