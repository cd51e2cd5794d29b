// slim train end to end on a tiny model: it learns, resumes exactly, writes a loadable Hugging Face
// directory whose perplexity matches the trainer's report, and refuses what it must refuse.
#include <ATen/ATen.h>
#include <c10/core/GradMode.h>
#include <gtest/gtest.h>
#include <nlohmann/json.hpp>

#include <filesystem>
#include <fstream>
#include <set>

#include "slim/core/files.h"
#include "slim/eval/evaluate.h"
#include "slim/io/safetensors.h"
#include "slim/model/causal_lm.h"
#include "slim/model/random_model.h"
#include "slim/model/tensor_layout.h"
#include "slim/train/trainer.h"
#include "slim_test_paths.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace slim::train {
namespace {

namespace fs = std::filesystem;

class TrainerTest : public ::testing::Test {
 protected:
  void SetUp() override {
    model::RandomModelOptions random;
    random.vocab_size = 258;  // byte-level tokenizer with BOS/EOS
    random.hidden_size = 32;
    random.intermediate_size = 64;
    random.num_hidden_layers = 2;
    random.num_attention_heads = 4;
    random.num_key_value_heads = 2;
    random.tie_word_embeddings = true;
    model::write_random_model(random, dir_.file("base"));
    // Training text: calibration samples as documents; held-out: the first part of the eval text.
    const std::string eval_text =
        read_file(std::string(SLIM_SOURCE_DIR) + "/data/eval/sotu_2001_2021.txt");
    write_file(dir_.file("heldout.txt"), eval_text.substr(0, 20000));
    std::ifstream calib(std::string(SLIM_SOURCE_DIR) + "/data/calib/sotu_calib.jsonl");
    std::string line, train_text;
    for (int i = 0; i < 16 && std::getline(calib, line); ++i)
      train_text += line + "\n";
    write_file(dir_.file("train.jsonl"), train_text);
  }

  TrainOptions options(const std::string& name) const {
    TrainOptions o;
    o.config_path = dir_.file("base") + "/config.json";
    o.tokenizer_path = dir_.file("base");
    o.dataset = dir_.file("train.jsonl");
    o.eval_dataset = dir_.file("heldout.txt");
    o.save_path = dir_.file(name);
    o.seq_len = 32;
    o.batch_size = 4;
    o.grad_accum = 2;
    o.steps = 24;
    o.warmup_steps = 4;
    o.lr = 5e-3;
    o.eval_every = 8;
    o.eval_windows = 4;
    o.final_eval_windows = 16;
    o.checkpoint_every = 5;
    o.log_every = 0;
    o.save_dtype = at::kFloat;
    return o;
  }

  testing::TempDir dir_;
};

std::map<std::string, at::Tensor> load_all(const std::string& path) {
  const auto checkpoint = io::SafetensorsCheckpoint::open(path);
  std::map<std::string, at::Tensor> tensors;
  for (const auto& name : checkpoint.names())
    tensors[name] = checkpoint.tensor(name).clone();
  return tensors;
}

TEST_F(TrainerTest, LearnsAndWritesALoadableModel) {
  const TrainResult result = train(options("out"));
  ASSERT_TRUE(result.completed);
  EXPECT_EQ(result.steps, 24);
  EXPECT_EQ(result.tokens, 24 * 4 * 2 * 32);
  ASSERT_EQ(result.evals.size(), 3u);  // steps 8, 16 and the final evaluation
  // A byte-level model from random weights starts near ppl 258; it must have learned letters.
  EXPECT_LT(result.final_eval_ppl, 40.0);
  EXPECT_LT(result.evals.back().eval_ppl, result.evals.front().eval_ppl);

  for (const char* name : {"config.json", "generation_config.json", "tokenizer.json",
                           "tokenizer_config.json", "model.safetensors", "trainer_state.json"}) {
    EXPECT_TRUE(fs::exists(dir_.file("out") + "/" + name)) << name;
  }
  const auto state = nlohmann::json::parse(read_file(dir_.file("out") + "/trainer_state.json"));
  EXPECT_EQ(state["steps"], 24);
  EXPECT_NEAR(state["final_eval"]["perplexity"].get<double>(), result.final_eval_ppl, 1e-9);
  const auto config = nlohmann::json::parse(read_file(dir_.file("out") + "/config.json"));
  EXPECT_EQ(config["torch_dtype"], "float32");

  // Tied embeddings: no lm_head in the file; every tensor the architecture reads is there.
  const auto tensors = load_all(dir_.file("out"));
  EXPECT_EQ(tensors.count("lm_head.weight"), 0u);
  // The saved model evaluates to the perplexity the trainer reported.
  const auto model = model::CausalLM::open(dir_.file("out"));
  const auto held_out = eval::tokenize_dataset(dir_.file("out"), dir_.file("heldout.txt"));
  eval::WindowOptions windows;
  windows.seq_len = 32;
  windows.max_chunks = 16;
  const auto measured = eval::perplexity(*model, eval::windows_for(held_out, windows), 4);
  EXPECT_NEAR(measured.perplexity, result.final_eval_ppl, 1e-4 * result.final_eval_ppl);
}

TEST_F(TrainerTest, ResumedRunEqualsAnUninterruptedOne) {
  ASSERT_TRUE(train(options("straight")).completed);

  TrainOptions first = options("resumed");
  first.stop_after_steps = 11;  // between checkpoints: the stop itself must checkpoint
  const TrainResult partial = train(first);
  EXPECT_FALSE(partial.completed);
  EXPECT_EQ(partial.steps, 11);
  EXPECT_FALSE(fs::exists(dir_.file("resumed")));  // no half-made model directory
  ASSERT_TRUE(fs::exists(dir_.file("resumed") + ".checkpoint/state.json"));

  TrainOptions second = options("resumed");
  second.resume = true;
  const TrainResult rest = train(second);
  ASSERT_TRUE(rest.completed);
  EXPECT_EQ(rest.steps, 24);

  const auto a = load_all(dir_.file("straight"));
  const auto b = load_all(dir_.file("resumed"));
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, tensor] : a) {
    EXPECT_TRUE(at::equal(tensor, b.at(name))) << name << " differs after resume";
  }
}

TEST_F(TrainerTest, RefusesWhatItMust) {
  TrainOptions first = options("out");
  first.stop_after_steps = 3;
  EXPECT_FALSE(train(first).completed);

  // A checkpoint exists: neither --resume nor --overwrite.
  EXPECT_ERROR_WITH(train(options("out")), "out.checkpoint", "--resume");
  // Resuming with another batch layout would see other data.
  TrainOptions other = options("out");
  other.resume = true;
  other.batch_size = 2;
  EXPECT_ERROR_WITH(train(other), "batch_size", "state.json");
  // An existing output directory.
  fs::create_directories(dir_.file("full"));
  write_file(dir_.file("full") + "/x", "x");
  EXPECT_ERROR_WITH(train(options("full")), "full", "--overwrite");
  // Bad options and data.
  TrainOptions bad = options("bad");
  bad.seq_len = 1;
  EXPECT_ERROR_WITH(train(bad), "seq_len");
  bad = options("bad");
  bad.dataset = dir_.file("missing.jsonl");
  EXPECT_ERROR_WITH(train(bad), "missing.jsonl");
  bad = options("bad");
  write_file(dir_.file("tiny.jsonl"), "{\"text\": \"abc\"}\n");
  bad.dataset = dir_.file("tiny.jsonl");
  EXPECT_ERROR_WITH(train(bad), "too few");
  bad = options("bad");
  bad.config_path.clear();
  EXPECT_ERROR_WITH(train(bad), "config.json");
}

TEST(WindowOrder, VisitsEveryWindowOncePerEpochWithinBounds) {
  const int64_t tokens = 1000, seq = 32;
  WindowOrder order(tokens, seq, 7);
  const int64_t n = order.windows_per_epoch();
  EXPECT_EQ(n, (tokens - seq) / seq);
  std::vector<std::set<int64_t>> starts(3);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    for (int64_t k = 0; k < n; ++k) {
      const int64_t start = order.start_of(epoch * n + k);
      EXPECT_GE(start, 0);
      EXPECT_LE(start + seq + 1, tokens);  // a window reads seq_len + 1 tokens
      starts[epoch].insert(start);
    }
    EXPECT_EQ(static_cast<int64_t>(starts[epoch].size()), n);  // no window twice in an epoch
  }
  EXPECT_NE(starts[0], starts[1]);  // each epoch has its own offset or order
  // Deterministic, and independent of the order of queries.
  WindowOrder again(tokens, seq, 7);
  EXPECT_EQ(again.start_of(2 * n + 3), order.start_of(2 * n + 3));
  EXPECT_EQ(again.start_of(5), WindowOrder(tokens, seq, 7).start_of(5));
  WindowOrder other_seed(tokens, seq, 8);
  int same = 0;
  for (int64_t k = 0; k < n; ++k)
    same += other_seed.start_of(k) == WindowOrder(tokens, seq, 7).start_of(k);
  EXPECT_LT(same, n);
}

TEST(InitialWeights, DeterministicWithTheRightShapesAndScales) {
  io::ModelConfig config = io::parse_model_config(
      nlohmann::json::parse(R"({"architectures": ["Qwen3ForCausalLM"], "vocab_size": 300,
        "hidden_size": 64, "intermediate_size": 128, "num_hidden_layers": 4,
        "num_attention_heads": 4, "num_key_value_heads": 2, "head_dim": 16,
        "tie_word_embeddings": false})"),
      "test config");
  const auto a = initial_weights(config, 1, 0.02);
  const auto b = initial_weights(config, 1, 0.02);
  const auto c = initial_weights(config, 2, 0.02);
  for (const auto& expected : model::expected_tensors(config)) {
    ASSERT_EQ(a.count(expected.name), 1u) << expected.name;
    EXPECT_EQ(a.at(expected.name).sizes().vec(), expected.shape);
    EXPECT_TRUE(at::equal(a.at(expected.name), b.at(expected.name)));
  }
  EXPECT_FALSE(at::equal(a.at("model.embed_tokens.weight"), c.at("model.embed_tokens.weight")));
  EXPECT_TRUE(at::equal(a.at("model.layers.0.self_attn.q_norm.weight"), at::ones({16})));
  EXPECT_NEAR(a.at("model.embed_tokens.weight").std().item<double>(), 0.02, 0.002);
  EXPECT_NEAR(a.at("model.layers.1.mlp.down_proj.weight").std().item<double>(),
              0.02 / std::sqrt(8.0), 0.001);
}

// The in-memory model computes what the mapped one does, and gradients reach its tensors.
TEST(InMemoryModel, MatchesTheCheckpointAndIsDifferentiable) {
  testing::TempDir dir;
  model::RandomModelOptions random;
  random.dtype = at::kFloat;
  random.vocab_size = 50;
  model::write_random_model(random, dir.file("m"));
  const auto mapped = model::CausalLM::open(dir.file("m"));
  std::map<std::string, at::Tensor> tensors = load_all(dir.file("m"));
  for (auto& [name, tensor] : tensors)
    tensor.set_requires_grad(true);
  const auto memory = model::CausalLM::from_tensors(mapped->config(), tensors);
  const at::Tensor ids = at::randint(0, 50, {2, 7}, at::kLong);
  at::Tensor logits;
  {
    c10::NoGradGuard no_grad;
    logits = mapped->forward(ids);
  }
  const at::Tensor trained = memory->forward(ids);
  EXPECT_TRUE(at::allclose(trained, logits, 1e-5, 1e-6));
  trained.sum().backward();
  for (const auto& [name, tensor] : tensors) {
    ASSERT_TRUE(tensor.grad().defined()) << name;
    EXPECT_GT(tensor.grad().abs().sum().item<double>(), 0) << name;
  }
  // Missing and mis-shaped tensors are named.
  auto missing = tensors;
  missing.erase("model.norm.weight");
  EXPECT_ERROR_WITH(model::CausalLM::from_tensors(mapped->config(), missing), "model.norm.weight");
  auto misshaped = tensors;
  misshaped["model.norm.weight"] = at::ones({3});
  EXPECT_ERROR_WITH(model::CausalLM::from_tensors(mapped->config(), misshaped), "model.norm.weight",
                    "[3]");
}

}  // namespace
}  // namespace slim::train
