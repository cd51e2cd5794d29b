// Forward-pass throughput of a ~1B-parameter Llama-shaped random model at sequence length 512,
// next to this machine's GEMM throughput measured in the same run.
//
//   build/slim_forward_bench [--layers N] [--seq 512] [--repeats 3] [--model DIR]
//
// The model (TinyLlama-1.1B geometry: hidden 2048, intermediate 5632, 22 layers, 32 heads,
// 4 KV heads, vocab 32000; bf16 weights) is written once to $SLIM_CACHE/bench/llama-1.1b.
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/GradMode.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>

#include "slim/core/threads.h"
#include "slim/model/causal_lm.h"
#include "slim/model/random_model.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point start) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
}

// Best-of-repeats GFLOP/s of x [1, m, k] times a weight [n, k]^T in `dtype`, through the same
// at::linear call the model's layers make.
double gemm_gflops(int64_t m, int64_t k, int64_t n, at::ScalarType dtype, int repeats) {
  const at::Tensor x = at::randn({1, m, k}).to(dtype);
  const at::Tensor w = at::randn({n, k}).to(dtype);
  for (int i = 0; i < 2; ++i)
    at::linear(x, w);  // warm-up (kernel selection, page faults)
  double best = 1e30;
  for (int r = 0; r < std::max(repeats, 5); ++r) {
    const auto start = std::chrono::steady_clock::now();
    const at::Tensor y = at::linear(x, w);
    best = std::min(best, seconds_since(start));
  }
  return 2.0 * m * k * n / best / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t layers = 22, seq = 512;
  int repeats = 3;
  std::string model_dir;
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--layers")
      layers = std::atoll(argv[i + 1]);
    else if (flag == "--seq")
      seq = std::atoll(argv[i + 1]);
    else if (flag == "--repeats")
      repeats = std::atoi(argv[i + 1]);
    else if (flag == "--model")
      model_dir = argv[i + 1];
    else {
      std::fprintf(stderr, "unknown flag %s\n", flag.c_str());
      return 2;
    }
  }
  const char* cache = std::getenv("SLIM_CACHE");
  const std::string home = std::getenv("HOME") ? std::getenv("HOME") : ".";
  if (model_dir.empty()) {
    model_dir = (cache ? std::string(cache) : home + "/.cache/slim") + "/bench/llama-1.1b-L" +
                std::to_string(layers);
  }
  slim::model::RandomModelOptions options;
  options.architecture = "LlamaForCausalLM";
  options.vocab_size = 32000;
  options.hidden_size = 2048;
  options.intermediate_size = 5632;
  options.num_hidden_layers = layers;
  options.num_attention_heads = 32;
  options.num_key_value_heads = 4;
  options.dtype = at::kBFloat16;
  if (!std::filesystem::exists(model_dir + "/config.json")) {
    std::fprintf(stderr, "writing the benchmark model to %s ...\n", model_dir.c_str());
    slim::model::write_random_model(options, model_dir, /*overwrite=*/true);
  }

  std::printf("threads: %d\n", slim::configure_threads());
  // The dominant GEMM of the forward pass: [seq, hidden] x [hidden, intermediate].
  const double gemm32 = gemm_gflops(seq, 2048, 5632, at::kFloat, repeats);
  const double gemm16 = gemm_gflops(seq, 2048, 5632, at::kBFloat16, repeats);
  std::printf(
      "GEMM [%lld x 2048] x [2048 x 5632]: fp32 %.1f GFLOP/s, bf16 %.1f GFLOP/s (bf16/fp32 "
      "%.2fx)\n",
      static_cast<long long>(seq), gemm32, gemm16, gemm16 / gemm32);

  // Matmul FLOPs of one forward pass: linear layers, attention products, lm_head.
  const double h = 2048, inter = 5632, kv = 4 * 64, q = 2048, vocab = 32000, t = double(seq);
  const double per_layer = 2 * t * h * (q + 2 * kv) + 2 * t * q * h + 2 * t * h * inter * 3 +
                           2 * 2 * t * t * q / 2;  // causal: half of QK^T and PV on average
  const double flops = layers * per_layer + 2 * t * h * vocab;
  const at::Tensor ids = at::randint(0, 32000, {1, seq}, at::kLong);

  for (at::ScalarType dtype : {at::kFloat, at::kBFloat16}) {
    slim::model::RuntimeOptions runtime;
    runtime.compute_dtype = dtype;
    auto model = slim::model::CausalLM::open(model_dir, runtime);
    const auto load_start = std::chrono::steady_clock::now();
    model->keep_layers_resident();
    const double load_s = seconds_since(load_start);
    c10::NoGradGuard no_grad;
    model->forward(ids.narrow(1, 0, 16));  // warm-up
    double best = 1e30;
    for (int r = 0; r < repeats; ++r) {
      const auto start = std::chrono::steady_clock::now();
      model->forward(ids);
      best = std::min(best, seconds_since(start));
    }
    const double gflops = flops / best / 1e9;
    const double gemm = dtype == at::kFloat ? gemm32 : gemm16;
    std::printf(
        "forward %s (layers resident, loaded in %.1f s): %.3f s for %lld tokens = %.1f tokens/s, "
        "%.1f GFLOP/s = %.0f%% of %s GEMM, %.0f%% of fp32 GEMM\n",
        dtype == at::kFloat ? "fp32" : "bf16", load_s, best, static_cast<long long>(seq), t / best,
        gflops, 100 * gflops / gemm, dtype == at::kFloat ? "fp32" : "bf16", 100 * gflops / gemm32);
  }
  // Streaming (layer by layer from the mapped checkpoint), bf16 compute.
  {
    slim::model::RuntimeOptions runtime;
    runtime.compute_dtype = at::kBFloat16;
    auto model = slim::model::CausalLM::open(model_dir, runtime);
    c10::NoGradGuard no_grad;
    const auto start = std::chrono::steady_clock::now();
    model->forward(ids);
    const double s = seconds_since(start);
    std::printf(
        "forward bf16 streaming layers from the mapped checkpoint: %.3f s = %.1f tokens/s\n", s,
        t / s);
  }
  return 0;
}
