// Quantize+pack throughput of weight quantization (issue 7), in GB/s of input bf16 weight bytes:
// min/max statistics, parameters, codes (deploy_linear, which also validates the record) and the
// §7.6 packing of the file format: int4 pairs along the output axis, E4M3 bytes, E2M1 nibbles.
//
//   build/slim_bench --benchmark_filter=quant_
//
// The argument is the intra-op thread count (ATen's OpenMP pool).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <benchmark/benchmark.h>

#include "slim/quant/numerics.h"

namespace {

using slim::quant::QDtype;
using slim::quant::QScheme;
using slim::quant::QScope;

constexpr int64_t kOut = 4096;
constexpr int64_t kIn = 4096;

const at::Tensor& weight() {
  static const at::Tensor w = [] {
    at::manual_seed(0);
    return (at::randn({kOut, kIn}) * 0.02).to(at::kBFloat16);
  }();
  return w;
}

QScheme make_scheme(QDtype dtype, QScope scope, int64_t group_size) {
  QScheme s;
  s.dtype = dtype;
  s.scope = scope;
  s.symmetric = true;
  s.group_size = group_size;
  return s;
}

enum class Pack { None, Int4, E4M3, E2M1 };

void run(benchmark::State& state, const QScheme& act, const QScheme& scheme, Pack pack) {
  const int previous = at::get_num_threads();
  at::set_num_threads(static_cast<int>(state.range(0)));
  const at::Tensor& w = weight();
  for (auto _ : state) {
    const slim::quant::DeployedLinear d = slim::quant::deploy_linear(
        "model.layers.0.mlp.up_proj", w, std::nullopt, act, scheme, std::nullopt, at::kBFloat16);
    at::Tensor out = d.weight_codes;
    if (pack == Pack::Int4) out = slim::quant::pack_int4_along_out("w", d.weight_codes);
    if (pack == Pack::E4M3) out = slim::quant::e4m3_to_bytes("w", d.weight_codes);
    if (pack == Pack::E2M1) out = slim::quant::pack_e2m1("w", d.weight_codes);
    benchmark::DoNotOptimize(out.data_ptr());
    benchmark::DoNotOptimize(d.weight_scale.data_ptr());
  }
  state.SetBytesProcessed(state.iterations() * w.numel() * static_cast<int64_t>(w.element_size()));
  state.counters["threads"] = static_cast<double>(state.range(0));
  at::set_num_threads(previous);
}

void quant_int8_per_channel(benchmark::State& state) {
  run(state, QScheme{}, make_scheme(QDtype::Int8, QScope::PerChannel, 0), Pack::None);
}

void quant_int4_per_group128_pack(benchmark::State& state) {
  run(state, QScheme{}, make_scheme(QDtype::Int4, QScope::PerGroup, 128), Pack::Int4);
}

void quant_fp8_per_channel_bytes(benchmark::State& state) {
  run(state, make_scheme(QDtype::Fp8E4M3, QScope::PerToken, 0),
      make_scheme(QDtype::Fp8E4M3, QScope::PerChannel, 0), Pack::E4M3);
}

void quant_mxfp8_bytes(benchmark::State& state) {
  const QScheme mx = make_scheme(QDtype::MxFp8, QScope::PerBlock, 32);
  run(state, mx, mx, Pack::E4M3);
}

void quant_mxfp4_pack(benchmark::State& state) {
  run(state, make_scheme(QDtype::MxFp8, QScope::PerBlock, 32),
      make_scheme(QDtype::MxFp4, QScope::PerBlock, 32), Pack::E2M1);
}

#define SLIM_QUANT_BENCH(name) \
  BENCHMARK(name)->Arg(1)->Arg(2)->Unit(benchmark::kMillisecond)->UseRealTime()
SLIM_QUANT_BENCH(quant_int8_per_channel);
SLIM_QUANT_BENCH(quant_int4_per_group128_pack);
SLIM_QUANT_BENCH(quant_fp8_per_channel_bytes);
SLIM_QUANT_BENCH(quant_mxfp8_bytes);
SLIM_QUANT_BENCH(quant_mxfp4_pack);

}  // namespace
