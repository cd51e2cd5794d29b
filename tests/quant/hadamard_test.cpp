// Hadamard matrices for rotations: every order Slim builds is checked against the definition
// (entries ±1, rows pairwise orthogonal) with a scalar loop, and the random rotation is orthogonal
// and reproducible from its seed.
#include "slim/quant/hadamard.h"

#include <gtest/gtest.h>

#include <ATen/ATen.h>

#include <cmath>

#include "slim/core/error.h"

namespace {

using slim::quant::hadamard_matrix;
using slim::quant::hadamard_shape;
using slim::quant::random_hadamard_rotation;

// The definition, one entry and one dot product at a time.
void expect_hadamard(const at::Tensor& h, int64_t n) {
  ASSERT_EQ(h.sizes(), (at::IntArrayRef{n, n}));
  const auto a = h.accessor<double, 2>();
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = 0; j < n; ++j)
      ASSERT_EQ(std::abs(a[i][j]), 1.0) << n << ": entry " << i << "," << j;
  }
  for (int64_t i = 0; i < n; ++i) {
    for (int64_t j = i; j < n; ++j) {
      double dot = 0;
      for (int64_t c = 0; c < n; ++c)
        dot += a[i][c] * a[j][c];
      ASSERT_EQ(dot, i == j ? static_cast<double>(n) : 0.0) << n << ": rows " << i << ", " << j;
    }
  }
}

TEST(Hadamard, EveryPaleyAndSylvesterOrderIsHadamard) {
  // Paley I (12, 20, 24, 44, 48, 60, 84, 108), Paley II (28, 36, 76), Sylvester, and products.
  for (int64_t n : {1, 2, 4, 8, 12, 20, 24, 28, 36, 40, 44, 48, 60, 72, 76, 84, 108, 144, 256}) {
    SCOPED_TRACE(n);
    expect_hadamard(hadamard_matrix(n), n);
  }
}

TEST(Hadamard, HiddenSizesOfRealModels) {
  // SmolLM2-135M 576, Qwen2.5-0.5B 896, SmolLM2-360M 960, 1536, the fixture 256, 2048.
  const struct {
    int64_t n, base, power;
  } cases[] = {{576, 36, 16},   {896, 28, 32}, {960, 60, 16},
               {1536, 12, 128}, {256, 1, 256}, {2048, 1, 2048}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.n);
    const auto shape = hadamard_shape(c.n);
    ASSERT_TRUE(shape.has_value());
    EXPECT_EQ(shape->base, c.base);
    EXPECT_EQ(shape->power, c.power);
  }
  expect_hadamard(hadamard_matrix(576), 576);
  const at::Tensor h = hadamard_matrix(1536);
  EXPECT_TRUE(at::equal(at::matmul(h, h.t()), at::eye(1536, at::kDouble) * 1536));
}

TEST(Hadamard, OrdersWithoutAConstructionAreRefusedNamingThem) {
  // 52, 156 and 172 (bases msModelSlim stores) need a prime power or Williamson's construction.
  for (int64_t n : {0, -4, 3, 6, 7, 52, 156, 172, 52 * 3}) {
    SCOPED_TRACE(n);
    EXPECT_FALSE(hadamard_shape(n).has_value());
  }
  // 136 = 68·2 (Paley I, q = 67) and 312 (Paley I, q = 311) are built.
  expect_hadamard(hadamard_matrix(136), 136);
  expect_hadamard(hadamard_matrix(312), 312);
  try {
    hadamard_matrix(52);
    FAIL() << "52 has no construction here";
  } catch (const slim::Error& error) {
    EXPECT_NE(std::string(error.what()).find("order 52"), std::string::npos) << error.what();
  }
}

TEST(Hadamard, RandomRotationIsOrthogonalAndFollowsItsSeed) {
  const int64_t n = 576;
  const at::Tensor r = random_hadamard_rotation(n, 1234);
  EXPECT_LT((at::matmul(r, r.t()) - at::eye(n, at::kDouble)).abs().max().item<double>(), 1e-12);
  EXPECT_LT((r.abs() - 1 / std::sqrt(double(n))).abs().max().item<double>(), 1e-15);
  EXPECT_TRUE(at::equal(r, random_hadamard_rotation(n, 1234)));
  const at::Tensor other = random_hadamard_rotation(n, 7);
  EXPECT_FALSE(at::equal(r, other));
  // Only the column signs differ: the same Hadamard matrix underneath.
  EXPECT_TRUE(at::equal(r.abs(), other.abs()));
}

}  // namespace
