// AdamW, gradient clipping and the learning-rate schedule against plain scalar references.
#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "slim/core/error.h"
#include "slim/train/adamw.h"

namespace slim::train {
namespace {

struct ScalarAdamW {
  std::vector<double> p, m, v;
  double b1, b2, eps, wd;
  int64_t t = 0;
  void step(const std::vector<double>& g, double lr, bool decay) {
    ++t;
    for (size_t i = 0; i < p.size(); ++i) {
      m[i] = b1 * m[i] + (1 - b1) * g[i];
      v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i];
      if (decay) p[i] *= 1 - lr * wd;
      const double m_hat = m[i] / (1 - std::pow(b1, double(t)));
      const double v_hat = v[i] / (1 - std::pow(b2, double(t)));
      p[i] -= lr * m_hat / (std::sqrt(v_hat) + eps);
    }
  }
};

std::vector<double> to_vector(const at::Tensor& t) {
  const at::Tensor flat = t.detach().to(at::kDouble).contiguous().reshape({-1});
  return std::vector<double>(flat.data_ptr<double>(), flat.data_ptr<double>() + flat.numel());
}

void expect_close(const std::vector<double>& got, const std::vector<double>& want, double tol) {
  ASSERT_EQ(got.size(), want.size());
  for (size_t i = 0; i < got.size(); ++i)
    EXPECT_NEAR(got[i], want[i], tol * (1 + std::abs(want[i]))) << "element " << i;
}

// Random, huge, tiny and zero gradients over several steps, decayed and undecayed parameters.
TEST(AdamW, MatchesScalarReference) {
  at::manual_seed(3);
  AdamWOptions options;
  options.beta1 = 0.8;
  options.beta2 = 0.99;
  options.eps = 1e-6;
  options.weight_decay = 0.05;
  const std::vector<at::Tensor> gradients_per_step = {at::randn({4, 5}),
                                                      at::randn({4, 5}) * 1e4,   // huge
                                                      at::randn({4, 5}) * 1e-9,  // below eps
                                                      at::zeros({4, 5}),         // none at all
                                                      at::randn({4, 5})};
  for (bool decay : {true, false}) {
    AdamWParameter parameter;
    parameter.name = "w";
    parameter.value = at::randn({4, 5}).set_requires_grad(true);
    parameter.decay = decay;
    ScalarAdamW reference{to_vector(parameter.value),
                          std::vector<double>(20, 0.0),
                          std::vector<double>(20, 0.0),
                          options.beta1,
                          options.beta2,
                          options.eps,
                          options.weight_decay};
    AdamW optimizer({parameter}, options);
    double lr = 1e-2;
    for (const auto& gradient : gradients_per_step) {
      optimizer.parameters()[0].value.mutable_grad() = gradient.clone();
      optimizer.step(lr);
      reference.step(to_vector(gradient), lr, decay);
      expect_close(to_vector(optimizer.parameters()[0].value), reference.p, 1e-5);
      expect_close(to_vector(optimizer.parameters()[0].exp_avg), reference.m, 1e-5);
      expect_close(to_vector(optimizer.parameters()[0].exp_avg_sq), reference.v, 1e-5);
      lr *= 0.7;
    }
    EXPECT_EQ(optimizer.steps(), 5);
  }
}

TEST(AdamW, LeavesParametersWithoutGradientsAlone) {
  AdamWParameter parameter;
  parameter.name = "w";
  parameter.value = at::ones({3}).set_requires_grad(true);
  AdamW optimizer({parameter}, AdamWOptions{});
  optimizer.step(0.1);
  EXPECT_TRUE(at::equal(optimizer.parameters()[0].value, at::ones({3})));
  EXPECT_TRUE(at::equal(optimizer.parameters()[0].exp_avg, at::zeros({3})));
}

TEST(AdamW, RejectsBadOptions) {
  AdamWParameter parameter;
  parameter.name = "w";
  parameter.value = at::ones({3});
  AdamWOptions options;
  options.beta2 = 1.0;
  EXPECT_THROW(AdamW({parameter}, options), slim::Error);
  options = AdamWOptions{};
  options.eps = 0;
  EXPECT_THROW(AdamW({parameter}, options), slim::Error);
  AdamWParameter half = parameter;
  half.value = at::ones({3}, at::kHalf);
  EXPECT_THROW(AdamW({half}, AdamWOptions{}), slim::Error);
}

TEST(ClipGradNorm, ScalesToTheGlobalNorm) {
  std::vector<AdamWParameter> parameters(3);
  parameters[0].value = at::ones({2}).set_requires_grad(true);
  parameters[1].value = at::ones({3}).set_requires_grad(true);
  parameters[2].value = at::ones({1}).set_requires_grad(true);  // no gradient
  parameters[0].value.mutable_grad() = at::tensor({3.0f, 4.0f});
  parameters[1].value.mutable_grad() = at::tensor({0.0f, 12.0f, 0.0f});
  // sqrt(9 + 16 + 144) = 13
  EXPECT_NEAR(clip_grad_norm(parameters, 0), 13.0, 1e-9);
  EXPECT_NEAR(clip_grad_norm(parameters, 100), 13.0, 1e-9);  // below the limit: unchanged
  EXPECT_FLOAT_EQ(parameters[1].value.grad()[1].item<float>(), 12.0f);
  EXPECT_NEAR(clip_grad_norm(parameters, 1.3), 13.0, 1e-9);
  EXPECT_NEAR(clip_grad_norm(parameters, 0), 1.3, 1e-6);
  EXPECT_NEAR(parameters[0].value.grad()[0].item<float>(), 0.3, 1e-6);
  std::vector<AdamWParameter> none(1);
  none[0].value = at::ones({2});
  EXPECT_EQ(clip_grad_norm(none, 1.0), 0.0);
}

TEST(WarmupCosine, FollowsTheFormula) {
  const double peak = 1e-3, ratio = 0.1;
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(0, 10, 110, peak, ratio), peak / 10);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(9, 10, 110, peak, ratio), peak);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(10, 10, 110, peak, ratio), peak);
  for (int64_t step = 10; step <= 110; step += 7) {
    const double progress = (step - 10) / 100.0;
    const double want = peak * ratio + 0.5 * peak * (1 - ratio) * (1 + std::cos(M_PI * progress));
    EXPECT_NEAR(warmup_cosine_lr(step, 10, 110, peak, ratio), want, 1e-15) << step;
  }
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(60, 10, 110, peak, ratio), peak * (ratio + 1) / 2);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(500, 10, 110, peak, ratio), peak * ratio);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(0, 0, 100, peak, ratio), peak);
  EXPECT_DOUBLE_EQ(warmup_cosine_lr(5, 10, 10, peak, 0.0), peak * 6 / 10);
}

}  // namespace
}  // namespace slim::train
