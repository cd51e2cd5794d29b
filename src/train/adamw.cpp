#include "slim/train/adamw.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include <algorithm>
#include <cmath>

#include "slim/core/error.h"

namespace slim::train {

AdamW::AdamW(std::vector<AdamWParameter> parameters, AdamWOptions options)
    : parameters_(std::move(parameters)), options_(options) {
  SLIM_CHECK(options.beta1 >= 0 && options.beta1 < 1 && options.beta2 >= 0 && options.beta2 < 1,
             "AdamW betas must be in [0, 1), got ", options.beta1, " and ", options.beta2);
  SLIM_CHECK(options.eps > 0, "AdamW eps must be positive, got ", options.eps);
  SLIM_CHECK(options.weight_decay >= 0, "weight decay must be >= 0, got ", options.weight_decay);
  for (auto& parameter : parameters_) {
    SLIM_CHECK(parameter.value.scalar_type() == at::kFloat, parameter.name,
               ": AdamW keeps fp32 master weights");
    if (!parameter.exp_avg.defined()) parameter.exp_avg = at::zeros_like(parameter.value);
    if (!parameter.exp_avg_sq.defined()) parameter.exp_avg_sq = at::zeros_like(parameter.value);
  }
}

void AdamW::step(double lr) {
  c10::NoGradGuard no_grad;
  ++steps_;
  const double t = static_cast<double>(steps_);
  const double correction1 = 1 - std::pow(options_.beta1, t);
  const double correction2 = 1 - std::pow(options_.beta2, t);
  for (auto& parameter : parameters_) {
    const at::Tensor& grad = parameter.value.grad();
    if (!grad.defined()) continue;
    parameter.exp_avg.mul_(options_.beta1).add_(grad, 1 - options_.beta1);
    parameter.exp_avg_sq.mul_(options_.beta2).addcmul_(grad, grad, 1 - options_.beta2);
    if (parameter.decay && options_.weight_decay > 0)
      parameter.value.mul_(1 - lr * options_.weight_decay);
    const at::Tensor denominator = (parameter.exp_avg_sq / correction2).sqrt_().add_(options_.eps);
    parameter.value.addcdiv_(parameter.exp_avg, denominator, -lr / correction1);
  }
}

void AdamW::zero_grad() {
  for (auto& parameter : parameters_) {
    at::Tensor grad = parameter.value.mutable_grad();
    if (grad.defined()) grad.zero_();
  }
}

double clip_grad_norm(std::vector<AdamWParameter>& parameters, double max_norm) {
  c10::NoGradGuard no_grad;
  std::vector<at::Tensor> squares;
  for (auto& parameter : parameters) {
    const at::Tensor& grad = parameter.value.grad();
    if (grad.defined()) squares.push_back(grad.to(at::kDouble).pow(2).sum());
  }
  if (squares.empty()) return 0;
  const double norm = std::sqrt(at::stack(squares).sum().item<double>());
  if (max_norm > 0 && norm > max_norm) {
    const double scale = max_norm / (norm + 1e-6);
    for (auto& parameter : parameters) {
      at::Tensor grad = parameter.value.mutable_grad();
      if (grad.defined()) grad.mul_(scale);
    }
  }
  return norm;
}

double warmup_cosine_lr(int64_t step, int64_t warmup, int64_t total, double peak,
                        double min_ratio) {
  if (warmup > 0 && step < warmup) return peak * static_cast<double>(step + 1) / warmup;
  const double floor = peak * min_ratio;
  if (step >= total || total <= warmup) return floor;
  const double progress = static_cast<double>(step - warmup) / static_cast<double>(total - warmup);
  return floor + 0.5 * (peak - floor) * (1 + std::cos(M_PI * progress));
}

}  // namespace slim::train
