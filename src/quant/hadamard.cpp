#include "slim/quant/hadamard.h"

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <vector>

#include "slim/core/error.h"

namespace slim::quant {

namespace {

bool is_prime(int64_t q) {
  if (q < 2) return false;
  for (int64_t d = 2; d * d <= q; ++d) {
    if (q % d == 0) return false;
  }
  return true;
}

// The quadratic character of a mod q (q an odd prime): 0, 1 (a square) or -1.
std::vector<int> quadratic_character(int64_t q) {
  std::vector<int> chi(q, -1);
  chi[0] = 0;
  for (int64_t x = 1; x < q; ++x)
    chi[(x * x) % q] = 1;
  return chi;
}

bool paley_one(int64_t k) {
  return k % 4 == 0 && is_prime(k - 1) && (k - 1) % 4 == 3;
}
bool paley_two(int64_t k) {
  return k % 4 == 0 && is_prime(k / 2 - 1) && (k / 2 - 1) % 4 == 1;
}

// [[1, 1], [1, -1]]: Sylvester's step, and the 2×2 block of Paley II.
at::Tensor hadamard_two() {
  return at::tensor({1.0, 1.0, 1.0, -1.0}, at::kDouble).reshape({2, 2});
}

// [[0, 1ᵀ], [sign·1, Q]] of order q + 1, with Q the Jacobsthal matrix Q_ij = χ(j − i) (skew for
// q ≡ 3 mod 4, symmetric for q ≡ 1 mod 4).
at::Tensor bordered_jacobsthal(int64_t q, double sign) {
  const std::vector<int> chi = quadratic_character(q);
  at::Tensor m = at::zeros({q + 1, q + 1}, at::kDouble);
  auto a = m.accessor<double, 2>();
  for (int64_t j = 1; j <= q; ++j) {
    a[0][j] = 1;
    a[j][0] = sign;
  }
  for (int64_t i = 0; i < q; ++i) {
    for (int64_t j = 0; j < q; ++j)
      a[i + 1][j + 1] = chi[((j - i) % q + q) % q];
  }
  return m;
}

// Paley I, order q + 1 (q ≡ 3 mod 4): I + [[0, 1ᵀ], [-1, Q]].
at::Tensor paley_one_matrix(int64_t q) {
  return at::eye(q + 1, at::kDouble) + bordered_jacobsthal(q, -1);
}

// Paley II, order 2(q + 1) (q ≡ 1 mod 4): C ⊗ [[1, 1], [1, -1]] + I ⊗ [[1, -1], [-1, -1]] with
// C = [[0, 1ᵀ], [1, Q]] the symmetric conference matrix.
at::Tensor paley_two_matrix(int64_t q) {
  const at::Tensor minus = at::tensor({1.0, -1.0, -1.0, -1.0}, at::kDouble).reshape({2, 2});
  return at::kron(bordered_jacobsthal(q, 1), hadamard_two()) +
         at::kron(at::eye(q + 1, at::kDouble), minus);
}

at::Tensor sylvester_matrix(int64_t power) {
  at::Tensor h = at::ones({1, 1}, at::kDouble);
  for (int64_t size = 1; size < power; size *= 2)
    h = at::kron(hadamard_two(), h);
  return h;
}

}  // namespace

std::optional<HadamardShape> hadamard_shape(int64_t n) {
  if (n <= 0) return std::nullopt;
  int64_t power = 1;
  while (n % (power * 2) == 0)
    power *= 2;
  // The smallest base first: the largest power of two that leaves a constructible k.
  for (; power >= 1; power /= 2) {
    const int64_t k = n / power;
    if (k == 1 || paley_one(k) || paley_two(k)) return HadamardShape{k, power};
  }
  return std::nullopt;
}

at::Tensor hadamard_matrix(int64_t n) {
  const auto shape = hadamard_shape(n);
  SLIM_CHECK(shape.has_value(), "no Hadamard matrix of order ", n,
             " can be built (n = k·2^m needs k = 1 or a Paley order: q + 1 for a prime q ≡ 3 "
             "mod 4, or 2(q + 1) for a prime q ≡ 1 mod 4)");
  const int64_t k = shape->base;
  at::Tensor base = at::ones({1, 1}, at::kDouble);
  if (k > 1) base = paley_one(k) ? paley_one_matrix(k - 1) : paley_two_matrix(k / 2 - 1);
  return at::kron(base, sylvester_matrix(shape->power)).contiguous();
}

at::Tensor random_hadamard_rotation(int64_t n, uint64_t seed) {
  const at::Tensor h = hadamard_matrix(n);
  at::Generator generator = at::make_generator<at::CPUGeneratorImpl>(seed);
  const at::Tensor signs =
      at::randint(0, 2, {n}, generator, at::TensorOptions().dtype(at::kDouble)) * 2 - 1;
  return h * signs.unsqueeze(0) / std::sqrt(static_cast<double>(n));
}

}  // namespace slim::quant
