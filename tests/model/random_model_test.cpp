#include "slim/model/random_model.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include "slim/io/model_config.h"
#include "slim/io/safetensors.h"
#include "slim/model/inspect.h"
#include "slim/model/tensor_layout.h"
#include "support/expect_error.h"
#include "support/temp_dir.h"

namespace {

using slim::testing::TempDir;

TEST(RandomModel, EveryExpectedTensorWithItsShapeAndDtype) {
  TempDir dir;
  slim::model::RandomModelOptions options;
  options.architecture = "Qwen2ForCausalLM";
  options.dtype = at::kHalf;
  options.head_dim = 32;  // != hidden / heads: shapes must follow head_dim
  slim::model::write_random_model(options, dir.file("m"));
  const auto config = slim::io::load_model_config(dir.file("m"));
  EXPECT_EQ(config.head_dim, 32);
  const auto checkpoint = slim::io::SafetensorsCheckpoint::open(dir.file("m"));
  const auto expected = slim::model::expected_tensors(config);
  ASSERT_EQ(checkpoint.names().size(), expected.size());
  for (const auto& tensor : expected) {
    const auto& info = checkpoint.info(tensor.name);
    EXPECT_EQ(info.shape, tensor.shape) << tensor.name;
    EXPECT_EQ(info.dtype, slim::io::Dtype::F16) << tensor.name;
  }
  EXPECT_EQ(checkpoint.info("model.layers.1.self_attn.q_proj.weight").shape,
            (std::vector<int64_t>{4 * 32, 64}));
  EXPECT_TRUE(checkpoint.contains("model.layers.0.self_attn.k_proj.bias"));
}

TEST(RandomModel, SameSeedSameWeightsOtherSeedOtherWeights) {
  TempDir dir;
  slim::model::RandomModelOptions options;
  slim::model::write_random_model(options, dir.file("a"));
  slim::model::write_random_model(options, dir.file("b"));
  options.seed = 1;
  slim::model::write_random_model(options, dir.file("c"));
  const auto a = slim::io::SafetensorsCheckpoint::open(dir.file("a"));
  const auto b = slim::io::SafetensorsCheckpoint::open(dir.file("b"));
  const auto c = slim::io::SafetensorsCheckpoint::open(dir.file("c"));
  const std::string name = "model.layers.0.mlp.down_proj.weight";
  EXPECT_TRUE(at::equal(a.tensor(name), b.tensor(name)));
  EXPECT_FALSE(at::equal(a.tensor(name), c.tensor(name)));
}

TEST(RandomModel, UnsupportedArchitectureListsTheSupportedOnes) {
  TempDir dir;
  slim::model::RandomModelOptions options;
  options.architecture = "BertModel";
  EXPECT_ERROR_WITH(slim::model::write_random_model(options, dir.file("m")), "'BertModel'",
                    "LlamaForCausalLM", "Qwen3ForCausalLM");
}

TEST(LayerPattern, ReplacesOnlyLayerIndices) {
  using slim::model::layer_pattern;
  EXPECT_EQ(layer_pattern("model.layers.12.mlp.up_proj.weight"),
            "model.layers.*.mlp.up_proj.weight");
  EXPECT_EQ(layer_pattern("model.embed_tokens.weight"), "model.embed_tokens.weight");
  EXPECT_EQ(layer_pattern("model.layers.x.weight"), "model.layers.x.weight");
  EXPECT_EQ(layer_pattern("a.layers.1.b.layers.22.c"), "a.layers.*.b.layers.*.c");
  EXPECT_EQ(layer_pattern("model.layers.3"), "model.layers.3");
}

}  // namespace
