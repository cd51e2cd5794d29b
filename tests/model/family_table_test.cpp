// The role tables of every family: resolved modules, names both ways (Hugging Face, llama.cpp),
// subgraphs over experts, and the rule that only family files spell Hugging Face module names.
#include <gtest/gtest.h>

#include <filesystem>
#include <fstream>
#include <regex>
#include <set>
#include <sstream>

#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/export/gguf_export.h"
#include "slim/io/gguf_import.h"
#include "slim/io/model_config.h"
#include "slim/model/family.h"
#include "slim/model/random_model.h"
#include "slim/model/roles.h"
#include "slim/model/tensor_layout.h"
#include "slim_test_paths.h"
#include "support/temp_dir.h"

namespace {

using namespace slim::model;
using slim::testing::TempDir;

slim::io::ModelConfig config_of(const std::string& arch, RandomModelOptions options = {}) {
  TempDir dir;
  options.architecture = arch;
  options.dtype = c10::kFloat;
  write_random_model(options, dir.file("m"));
  return slim::io::load_model_config(dir.file("m"));
}

TEST(FamilyTable, EveryFamilyResolvesNamesBothWays) {
  for (const FamilySpec* family : registered_families()) {
    SCOPED_TRACE(family->traits.name);
    const auto config = config_of(family->traits.name);
    std::set<std::string> names;
    for (int64_t layer = 0; layer < config.num_hidden_layers; ++layer) {
      for (const LayerModule& module : layer_modules(config, layer)) {
        EXPECT_TRUE(names.insert(module.name).second) << module.name << " twice";
        EXPECT_EQ(layer_of_name(module.name), layer);
        const auto named = role_of_name(module.weight_name());
        ASSERT_TRUE(named.has_value()) << module.weight_name();
        EXPECT_EQ(std::string(named->spec->role), module.spec->role);
        EXPECT_EQ(named->expert, module.expert);
        EXPECT_EQ(named->layer, layer);
        const auto gguf = slim::exporter::gguf_tensor_name(module.weight_name());
        ASSERT_TRUE(gguf.has_value()) << module.weight_name();
        if (module.expert < 0) {
          EXPECT_EQ(hf_name_of_gguf(family->traits.gguf.arch, *gguf), module.weight_name());
        } else {
          EXPECT_EQ(*gguf, "blk." + std::to_string(layer) + "." + module.spec->gguf + ".weight");
        }
      }
    }
    // Every tensor the layout expects has a role (or is global).
    for (const auto& tensor : expected_tensors(config)) {
      if (tensor.layer < 0) continue;
      EXPECT_TRUE(role_of_name(tensor.name).has_value()) << tensor.name;
    }
  }
  EXPECT_FALSE(role_of_name("model.layers.0.mlp.experts.x.down_proj.weight").has_value());
  EXPECT_FALSE(role_of_name("model.layers.0.self_attn.q_proj.scale").has_value());
  EXPECT_FALSE(role_of_name("layers.0.self_attn.q_proj.weight").has_value());
  EXPECT_EQ(layer_of_name("model.layers.12.mlp"), 12);
  EXPECT_EQ(layer_of_name("model.layers.x.mlp"), -1);
  EXPECT_EQ(layer_of_name("model.norm.weight"), -1);
}

TEST(FamilyTable, Qwen2MoeLayersExpertsSharedExpertAndDenseLayers) {
  RandomModelOptions options;
  options.num_hidden_layers = 3;
  options.num_experts = 4;
  options.moe_intermediate_size = 24;
  options.shared_expert_intermediate_size = 40;
  options.mlp_only_layers = {1};
  const auto config = config_of("Qwen2MoeForCausalLM", options);
  ASSERT_TRUE(config.moe.has_value());
  EXPECT_TRUE(config.is_moe_layer(0));
  EXPECT_FALSE(config.is_moe_layer(1));
  EXPECT_TRUE(config.is_moe_layer(2));

  std::map<std::string, std::vector<int64_t>> shapes;
  for (const auto& module : layer_modules(config, 0))
    shapes[module.name] = module.shape;
  EXPECT_EQ(shapes.at("model.layers.0.mlp.gate"), (std::vector<int64_t>{4, 64}));
  EXPECT_EQ(shapes.at("model.layers.0.mlp.experts.3.down_proj"), (std::vector<int64_t>{64, 24}));
  EXPECT_EQ(shapes.at("model.layers.0.mlp.experts.0.gate_proj"), (std::vector<int64_t>{24, 64}));
  EXPECT_EQ(shapes.at("model.layers.0.mlp.shared_expert.up_proj"), (std::vector<int64_t>{40, 64}));
  EXPECT_EQ(shapes.at("model.layers.0.mlp.shared_expert_gate"), (std::vector<int64_t>{1, 64}));
  EXPECT_EQ(shapes.count("model.layers.0.mlp.gate_proj"), 0u);
  // 2 norms, q/k/v/o, router, 4 x 3 expert linears, 4 shared-expert linears.
  EXPECT_EQ(shapes.size(), 2u + 4u + 1u + 12u + 4u);

  std::set<std::string> dense;
  for (const auto& module : layer_modules(config, 1))
    dense.insert(module.name);
  EXPECT_EQ(dense.count("model.layers.1.mlp.gate_proj"), 1u);
  EXPECT_EQ(dense.count("model.layers.1.mlp.gate"), 0u);
  EXPECT_EQ(dense.size(), 2u + 4u + 3u);
  // q/k/v biases (Qwen2 attention), none on the experts.
  for (const auto& module : layer_modules(config, 0))
    EXPECT_EQ(module.has_bias, module.spec->role == std::string(roles::kQ) ||
                                   module.spec->role == std::string(roles::kK) ||
                                   module.spec->role == std::string(roles::kV))
        << module.name;
}

TEST(FamilyTable, SubgraphsExpandOverExperts) {
  RandomModelOptions options;
  options.num_experts = 3;
  const auto config = config_of("Qwen3MoeForCausalLM", options);
  const auto subgraphs = layer_subgraphs(config, 1);
  // norm-linear x2, ov, one up-down per expert (no dense MLP, no shared expert).
  ASSERT_EQ(subgraphs.size(), 3u + 3u);
  EXPECT_EQ(subgraphs[0].type, "norm-linear");
  EXPECT_EQ(subgraphs[0].source, "model.layers.1.input_layernorm");
  EXPECT_EQ(subgraphs[0].targets.size(), 3u);
  EXPECT_EQ(subgraphs[1].source, "model.layers.1.post_attention_layernorm");
  EXPECT_EQ(subgraphs[1].targets,
            (std::vector<std::string>{
                "model.layers.1.mlp.gate",  // the router reads the norm too
                "model.layers.1.mlp.experts.0.gate_proj", "model.layers.1.mlp.experts.1.gate_proj",
                "model.layers.1.mlp.experts.2.gate_proj", "model.layers.1.mlp.experts.0.up_proj",
                "model.layers.1.mlp.experts.1.up_proj", "model.layers.1.mlp.experts.2.up_proj"}));
  EXPECT_EQ(subgraphs[2].type, "ov");
  for (int e = 0; e < 3; ++e) {
    const auto& updown = subgraphs[3 + e];
    EXPECT_EQ(updown.type, "up-down");
    EXPECT_EQ(updown.source, "model.layers.1.mlp.experts." + std::to_string(e) + ".up_proj");
    EXPECT_EQ(updown.targets, (std::vector<std::string>{"model.layers.1.mlp.experts." +
                                                        std::to_string(e) + ".down_proj"}));
  }
  // Mixtral's own names.
  const auto mixtral = layer_subgraphs(config_of("MixtralForCausalLM", options), 0);
  EXPECT_EQ(mixtral.back().source, "model.layers.0.block_sparse_moe.experts.2.w3");
  EXPECT_EQ(mixtral.back().targets,
            (std::vector<std::string>{"model.layers.0.block_sparse_moe.experts.2.w2"}));
  // Dense families keep msModelSlim's four subgraphs.
  EXPECT_EQ(layer_subgraphs(config_of("LlamaForCausalLM"), 0).size(), 4u);
}

TEST(FamilyTable, MoeConfigDefaultsAndBadKeys) {
  RandomModelOptions options;
  const auto mixtral = config_of("MixtralForCausalLM", options);
  EXPECT_TRUE(mixtral.moe->norm_top_k);  // Mixtral always renormalises
  EXPECT_EQ(mixtral.moe->expert_intermediate_size, mixtral.intermediate_size);
  nlohmann::json raw = mixtral.raw;
  raw["num_experts_per_tok"] = 9;
  EXPECT_THROW(slim::io::parse_model_config(raw, "c.json"), slim::Error);
  raw = config_of("Qwen3MoeForCausalLM").raw;
  raw["mlp_only_layers"] = {7};
  try {
    slim::io::parse_model_config(raw, "c.json");
    ADD_FAILURE() << "mlp_only_layers beyond the layers accepted";
  } catch (const slim::Error& error) {
    EXPECT_NE(std::string(error.what()).find("mlp_only_layers"), std::string::npos);
  }
  raw.erase("mlp_only_layers");
  raw.erase("norm_topk_prob");
  raw.erase("num_experts");
  const auto defaults = slim::io::parse_model_config(raw, "c.json");
  EXPECT_EQ(defaults.moe->num_experts, 128);  // Qwen3MoeConfig's default
  EXPECT_FALSE(defaults.moe->norm_top_k);
}

// Code outside src/model/families/ reaches modules through roles: no Hugging Face module name is
// spelled there (comments may show examples).
TEST(FamilyTable, HuggingFaceModuleNamesLiveInFamilyFilesOnly) {
  namespace fs = std::filesystem;
  const std::regex hf_names(
      R"(self_attn|input_layernorm|post_attention_layernorm|embed_tokens|block_sparse_moe|)"
      R"(shared_expert\.|shared_expert_gate|mlp\.(gate|up|down)_proj|mlp\.experts|"lm_head|)"
      R"(model\.norm\.|model\.layers\.)");
  std::vector<std::string> offenders;
  for (const char* root : {"src", "include"}) {
    for (const auto& entry : fs::recursive_directory_iterator(fs::path(SLIM_SOURCE_DIR) / root)) {
      if (!entry.is_regular_file()) continue;
      const std::string path = entry.path().string();
      if (path.find("/src/model/families/") != std::string::npos) continue;
      std::istringstream lines(slim::read_file(path));
      std::string line;
      for (int number = 1; std::getline(lines, line); ++number) {
        const size_t comment = line.find("//");
        const std::string code = comment == std::string::npos ? line : line.substr(0, comment);
        if (std::regex_search(code, hf_names))
          offenders.push_back(path + ":" + std::to_string(number) + ": " + line);
      }
    }
  }
  EXPECT_TRUE(offenders.empty()) << [&] {
    std::string text;
    for (const auto& offender : offenders)
      text += offender + "\n";
    return text;
  }();
}

}  // namespace
