#include "slim/model/blocks.h"

#include <ATen/ATen.h>

#include <cmath>

#include "slim/core/error.h"

namespace slim::model {

at::Tensor rms_norm(const at::Tensor& x, const at::Tensor& weight, double eps) {
  const at::Tensor x32 = x.to(at::kFloat);
  const at::Tensor variance = x32.pow(2).mean(-1, /*keepdim=*/true);
  const at::Tensor normed = (x32 * at::rsqrt(variance + eps)).to(x.scalar_type());
  return weight.to(x.scalar_type()) * normed;
}

namespace {

at::Tensor default_inv_freq(int64_t dim, double base, c10::Device device) {
  // As transformers: exponents in fp32, power in fp32.
  const at::Tensor exponents =
      at::arange(0, dim, 2, at::TensorOptions().dtype(at::kLong).device(device)).to(at::kFloat) /
      static_cast<double>(dim);
  return 1.0 / at::pow(base, exponents);
}

double yarn_mscale(double scale, double mscale = 1.0) {
  return scale <= 1.0 ? 1.0 : 0.1 * mscale * std::log(scale) + 1.0;
}

}  // namespace

RotaryEmbedding::RotaryEmbedding(const io::ModelConfig& config, c10::Device device)
    : scaling_(config.rope_scaling),
      head_dim_(config.head_dim),
      base_(config.rope_theta),
      max_positions_(config.max_position_embeddings) {
  inv_freq_ = default_inv_freq(head_dim_, base_, device);
  const std::string& type = scaling_.type;
  if (type == "linear") {
    inv_freq_ = inv_freq_ / scaling_.factor;
  } else if (type == "llama3") {
    const double factor = scaling_.factor;
    const double old_context = static_cast<double>(*scaling_.original_max_position_embeddings);
    const double low_wavelen = old_context / scaling_.low_freq_factor;
    const double high_wavelen = old_context / scaling_.high_freq_factor;
    const at::Tensor wavelen = 2 * M_PI / inv_freq_;
    at::Tensor scaled = at::where(wavelen > low_wavelen, inv_freq_ / factor, inv_freq_);
    const at::Tensor smooth = (old_context / wavelen - scaling_.low_freq_factor) /
                              (scaling_.high_freq_factor - scaling_.low_freq_factor);
    const at::Tensor smoothed = (1 - smooth) * scaled / factor + smooth * scaled;
    const at::Tensor medium = (wavelen >= high_wavelen).logical_and(wavelen <= low_wavelen);
    inv_freq_ = at::where(medium, smoothed, scaled);
  } else if (type == "yarn") {
    double factor = scaling_.factor;
    double original = static_cast<double>(max_positions_);
    if (scaling_.original_max_position_embeddings) {
      // As transformers: the ratio of the two context lengths defines the scaling.
      original = static_cast<double>(*scaling_.original_max_position_embeddings);
      factor = static_cast<double>(max_positions_) / original;
    }
    if (scaling_.attention_factor) {
      attention_scaling_ = *scaling_.attention_factor;
    } else if (scaling_.mscale && scaling_.mscale_all_dim) {
      attention_scaling_ =
          yarn_mscale(factor, *scaling_.mscale) / yarn_mscale(factor, *scaling_.mscale_all_dim);
    } else {
      attention_scaling_ = yarn_mscale(factor);
    }
    const double dim = static_cast<double>(head_dim_);
    auto correction_dim = [&](double rotations) {
      return dim * std::log(original / (rotations * 2 * M_PI)) / (2 * std::log(base_));
    };
    double low = std::max(std::floor(correction_dim(scaling_.beta_fast)), 0.0);
    double high = std::min(std::ceil(correction_dim(scaling_.beta_slow)), dim - 1);
    if (low == high) high += 0.001;
    const at::Tensor ramp =
        ((at::arange(head_dim_ / 2, at::TensorOptions().dtype(at::kFloat).device(device)) - low) /
         (high - low))
            .clamp(0, 1);
    const at::Tensor extrapolation_factor = 1 - ramp;
    const at::Tensor pos_freqs = 1.0 / inv_freq_;
    const at::Tensor interpolation = 1.0 / (factor * pos_freqs);
    inv_freq_ = interpolation * (1 - extrapolation_factor) + inv_freq_ * extrapolation_factor;
  }
}

at::Tensor RotaryEmbedding::dynamic_inv_freq(int64_t seq_len) const {
  if (seq_len <= max_positions_) return inv_freq_;
  const double factor = scaling_.factor;
  const double dim = static_cast<double>(head_dim_);
  const double base =
      base_ * std::pow(factor * seq_len / max_positions_ - (factor - 1), dim / (dim - 2));
  return default_inv_freq(head_dim_, base, inv_freq_.device());
}

std::pair<at::Tensor, at::Tensor> RotaryEmbedding::cos_sin(const at::Tensor& positions,
                                                           at::ScalarType dtype) const {
  at::Tensor inv_freq = inv_freq_;
  if (scaling_.type == "dynamic") {
    inv_freq = dynamic_inv_freq(positions.max().item<int64_t>() + 1);
  }
  // [batch, seq, 1] * [dim/2] in fp32, duplicated to the full head dimension.
  const at::Tensor freqs = positions.to(at::kFloat).unsqueeze(-1) * inv_freq;
  const at::Tensor emb = at::cat({freqs, freqs}, -1);
  return {(emb.cos() * attention_scaling_).to(dtype), (emb.sin() * attention_scaling_).to(dtype)};
}

at::Tensor apply_rotary(const at::Tensor& x, const at::Tensor& cos, const at::Tensor& sin) {
  const int64_t half = x.size(-1) / 2;
  const at::Tensor rotated = at::cat({-x.narrow(-1, half, half), x.narrow(-1, 0, half)}, -1);
  return x * cos.unsqueeze(1) + rotated * sin.unsqueeze(1);
}

at::Tensor causal_mask(int64_t q_len, int64_t k_len, int64_t first_query_position,
                       std::optional<int64_t> window, at::ScalarType dtype, c10::Device device) {
  const auto options = at::TensorOptions().dtype(at::kLong).device(device);
  const at::Tensor query = at::arange(q_len, options).unsqueeze(1) + first_query_position;
  const at::Tensor key = at::arange(k_len, options).unsqueeze(0);
  at::Tensor visible = key <= query;
  if (window) visible = visible.logical_and(key > query - *window);
  const double lowest = dtype == at::kBFloat16 ? -3.3895313892515355e38
                        : dtype == at::kHalf   ? -65504.0
                        : dtype == at::kDouble ? std::numeric_limits<double>::lowest()
                                               : std::numeric_limits<float>::lowest();
  return at::zeros({q_len, k_len}, at::TensorOptions().dtype(dtype).device(device))
      .masked_fill(visible.logical_not(), lowest)
      .view({1, 1, q_len, k_len});
}

}  // namespace slim::model
