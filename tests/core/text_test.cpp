#include "slim/core/text.h"

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cstdint>
#include <string>
#include <vector>

TEST(Text, Affixes) {
  EXPECT_TRUE(slim::starts_with("model.safetensors", "model."));
  EXPECT_TRUE(slim::starts_with("abc", ""));
  EXPECT_FALSE(slim::starts_with("ab", "abc"));
  EXPECT_FALSE(slim::starts_with("xabc", "abc"));
  EXPECT_TRUE(slim::ends_with("model.safetensors.index.json", ".index.json"));
  EXPECT_TRUE(slim::ends_with("abc", ""));
  EXPECT_TRUE(slim::ends_with("abc", "abc"));
  EXPECT_FALSE(slim::ends_with("bc", "abc"));
  EXPECT_FALSE(slim::ends_with("abcx", "abc"));
}

TEST(Text, ShapeText) {
  EXPECT_EQ(slim::shape_text(std::vector<int64_t>{128, 64}), "[128, 64]");
  EXPECT_EQ(slim::shape_text(std::vector<int64_t>{}), "[]");
  EXPECT_EQ(slim::shape_text({3}), "[3]");
  EXPECT_EQ(slim::shape_text({-1, 0, 7}), "[-1, 0, 7]");
}

TEST(Text, ShapeTextOfTensors) {
  EXPECT_EQ(slim::shape_text(at::zeros({2, 3})), "[2, 3]");
  EXPECT_EQ(slim::shape_text(at::zeros({2, 3}).sizes()), "[2, 3]");
  EXPECT_EQ(slim::shape_text(at::scalar_tensor(1.0)), "[]");
  EXPECT_EQ(slim::shape_text(at::Tensor()), "undefined");
}
