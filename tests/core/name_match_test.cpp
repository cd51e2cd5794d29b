#include "slim/core/name_match.h"

#include <gtest/gtest.h>

#include "support/expect_error.h"

namespace slim {
namespace {

TEST(NameMatch, MsModelSlimPatterns) {
  EXPECT_TRUE(name_matches("model.layers.3.mlp.down_proj", "model.layers.3.mlp.down_proj"));
  EXPECT_TRUE(name_matches("model.layers.3.mlp.down_proj", "*down_proj"));
  EXPECT_TRUE(name_matches("model.layers.3.mlp.down_proj", "*"));  // '*' crosses dots
  EXPECT_TRUE(name_matches("model.layers.3.mlp.down_proj", "model.layers.*.mlp.*"));
  EXPECT_FALSE(name_matches("model.layers.3.mlp.down_proj", "*up_proj.x"));
  EXPECT_TRUE(name_matches("model.layers.30.mlp.up_proj", "model.layers.{1,2,30}.mlp.up_proj"));
  EXPECT_FALSE(name_matches("model.layers.3.mlp.up_proj", "model.layers.{1,2,30}.mlp.up_proj"));
  EXPECT_TRUE(name_matches("model.layers.7.self_attn.k_proj", "*.self_attn.[kv]_proj"));
  EXPECT_FALSE(name_matches("model.layers.7.self_attn.q_proj", "*.self_attn.[kv]_proj"));
  EXPECT_TRUE(name_matches("a.b", "a?b"));
  EXPECT_FALSE(name_matches("Model.layers", "model.*"));  // case-sensitive
  EXPECT_TRUE(name_matches_any("lm_head", {"x", "lm_*"}));
  EXPECT_FALSE(name_matches_any("lm_head", {}));
}

TEST(NameMatch, BraceExpansion) {
  EXPECT_EQ(expand_braces("a{1,2}b{x,y}"),
            (std::vector<std::string>{"a1bx", "a1by", "a2bx", "a2by"}));
  EXPECT_EQ(expand_braces("a{b,c{d,e}}f"), (std::vector<std::string>{"abf", "acdf", "acef"}));
  EXPECT_EQ(expand_braces("plain"), (std::vector<std::string>{"plain"}));
  EXPECT_ERROR_WITH(expand_braces("a{b,c"), "a{b,c", "'{' without '}'");
  EXPECT_ERROR_WITH(name_matches("x", "a}b"), "a}b");
}

}  // namespace
}  // namespace slim
