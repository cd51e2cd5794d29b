// Hadamard matrices for rotations (QuaRot, spec msmodelslim-v1.md §5.11): H with entries ±1 and
// H·Hᵀ = n·I, built for n = k·2^m as H_k ⊗ H_(2^m), where H_(2^m) is Sylvester's and H_k comes from
// a Paley construction over a prime q:
//   Paley I  (q ≡ 3 mod 4): order q + 1       (12, 20, 24, 44, 48, 60, 72, 80, 84, 104, 108, ...)
//   Paley II (q ≡ 1 mod 4): order 2·(q + 1)   (12, 20, 28, 36, 60, 76, 108, 124, ...)
// Hidden sizes of common models: 576 = 36·16, 896 = 28·32, 1536 = 12·128, 3584 = 28·128,
// 5120 = 20·256, 960 = 60·16, powers of two. msModelSlim stores its base matrices instead of
// building them; of its bases, 52, 156 and 172 need a prime power or Williamson's construction and
// are not built here (136 = 68·2 is).
#pragma once

#include <ATen/core/Tensor.h>

#include <cstdint>
#include <optional>

namespace slim::quant {

// The base order k and the power of two of n = k · 2^m that Slim can build, the smallest k first;
// nullopt when no construction covers n.
struct HadamardShape {
  int64_t base = 1;   // 1 (pure Sylvester) or a Paley order
  int64_t power = 1;  // 2^m
};
std::optional<HadamardShape> hadamard_shape(int64_t n);

// The n×n ±1 Hadamard matrix (fp64); fails naming n when hadamard_shape(n) has none.
at::Tensor hadamard_matrix(int64_t n);

// QuaRot's random Hadamard rotation H·diag(±1)/√n (orthogonal, fp64): the signs drawn from a
// generator seeded with `seed`, so the same seed gives the same rotation.
at::Tensor random_hadamard_rotation(int64_t n, uint64_t seed);

}  // namespace slim::quant
