// Deployed-linear records for the format tests: forms by tag (from the deployed-form table), and
// random records of a form whose fields satisfy DeployedLinear::validate (integer codes, positive
// scales, grid values for fp8 / MX).
#pragma once

#include <ATen/ATen.h>
#include <ATen/CPUGeneratorImpl.h>

#include <cmath>
#include <cstdint>
#include <cstring>
#include <optional>
#include <string>
#include <vector>

#include "slim/core/error.h"
#include "slim/quant/deployed_forms.h"
#include "slim/quant/numerics.h"
#include "slim/quant/scheme.h"

namespace slim::testing {

inline quant::QScheme qscheme(quant::QDtype dtype, quant::QScope scope, bool symmetric = true,
                              int64_t group_size = 0) {
  quant::QScheme out;
  out.dtype = dtype;
  out.scope = scope;
  out.symmetric = symmetric;
  out.group_size = group_size;
  return out;
}

// The form of a tag from the deployed-form table: integer weights per group with `group_size`
// where the tag has a per-group form; `asym` makes the weights asymmetric where the form allows
// it, else W8A8's activations.
inline quant::DeployedForm form_for(quant::DeployedTag tag, int64_t group_size = 0,
                                    bool asym = false) {
  const quant::DeployedFormSpec& spec = quant::deployed_form_spec(tag);
  const int64_t group = spec.weight.per_group == quant::Symmetry::None ? 0 : group_size;
  try {
    return quant::make_form(spec, group, asym);
  } catch (const Error&) {  // no asymmetric weights: the activations, if the tag allows
    quant::DeployedForm form = quant::make_form(spec, group, false);
    if (spec.act.symmetry == quant::Symmetry::Either) form.act.symmetric = false;
    return form;
  }
}

// Every form of the table that a scheme pair selects (so deploy_linear can produce it): all but
// W16A16S, whose pruning algorithm sets the tag; FLOAT too when `with_float`.
inline std::vector<quant::DeployedForm> selectable_forms(int64_t group_size, bool with_float) {
  std::vector<quant::DeployedForm> out;
  for (const quant::DeployedForm& form : quant::every_form(group_size)) {
    if (!quant::deployed_form_spec(form.tag).selected_by_schemes) continue;
    if (form.tag == quant::DeployedTag::Float && !with_float) continue;
    out.push_back(form);
  }
  return out;
}

// The forms of `forms` that a saver's check() accepts.
template <typename Saver>
std::vector<quant::DeployedForm> held_forms(const Saver& saver,
                                            const std::vector<quant::DeployedForm>& forms) {
  std::vector<quant::DeployedForm> out;
  for (const quant::DeployedForm& form : forms) {
    try {
      saver.check(form);
    } catch (const Error&) {
      continue;
    }
    out.push_back(form);
  }
  return out;
}

// Per-tensor activation parameters for a static-activation form (scale 0.0234375, offset -5 when
// asymmetric); nullopt for the other forms.
inline std::optional<quant::QParams> fixed_act_params(const quant::DeployedForm& form) {
  if (quant::deployed_form_spec(form.tag).activations != quant::Activations::Static) {
    return std::nullopt;
  }
  return quant::QParams{form.act, at::tensor({0.0234375f}),
                        at::tensor({form.act.symmetric ? 0.0f : -5.0f})};
}

// Activation and weight schemes of form_for(tag, group_size, asym).
inline std::pair<quant::QScheme, quant::QScheme> schemes_for(quant::DeployedTag tag,
                                                             int64_t group_size = 0,
                                                             bool asym = false) {
  const quant::DeployedForm form = form_for(tag, group_size, asym);
  return {form.act, form.weight};
}

// Every finite E4M3 value (bytes 0..255 except the two NaNs), as fp32.
inline std::vector<float> e4m3_grid() {
  std::vector<float> values;
  for (int code = 0; code < 256; ++code) {
    const int exponent = (code >> 3) & 0xF;
    const int mantissa = code & 7;
    if (exponent == 15 && mantissa == 7) continue;
    const float magnitude =
        exponent == 0 ? std::ldexp(static_cast<float>(mantissa), -9)
                      : std::ldexp(1.0f + static_cast<float>(mantissa) / 8.0f, exponent - 7);
    values.push_back((code & 0x80) ? -magnitude : magnitude);
  }
  return values;
}

struct RandomLinearOptions {
  int64_t out = 8;
  int64_t in = 64;
  int64_t group_size = 0;
  bool asym = false;
  bool bias = true;
  at::ScalarType model_dtype = at::kFloat;
  at::ScalarType bias_dtype = at::kFloat;
  uint64_t seed = 1;
};

// A valid record of `form`, values drawn from `options.seed` (options.group_size and asym are
// the form's own).
inline quant::DeployedLinear random_linear(const quant::DeployedForm& form, const std::string& name,
                                           const RandomLinearOptions& options = {}) {
  using quant::DeployedTag;
  using quant::QDtype;
  auto gen = at::make_generator<at::CPUGeneratorImpl>(options.seed);
  const int64_t out = options.out;
  const int64_t in = options.in;
  quant::DeployedLinear linear;
  linear.name = name;
  linear.tag = form.tag;
  linear.act = form.act;
  linear.weight = form.weight;
  linear.model_dtype = options.model_dtype;
  const auto uniform = [&](at::IntArrayRef shape, double lo, double hi) {
    return at::empty(shape, at::kFloat).uniform_(lo, hi, gen);
  };
  const auto integers = [&](at::IntArrayRef shape, int64_t lo, int64_t hi) {  // [lo, hi]
    return at::randint(lo, hi + 1, shape, gen, at::kLong);
  };
  const auto pick = [&](const std::vector<float>& grid, at::IntArrayRef shape) {
    const at::Tensor table = at::tensor(grid, at::kFloat);
    return table.index({integers(shape, 0, static_cast<int64_t>(grid.size()) - 1)}).contiguous();
  };
  switch (linear.weight.dtype) {
    case QDtype::Float:
      linear.weight_codes = uniform({out, in}, -1, 1).to(options.model_dtype);
      break;
    case QDtype::Int8:
    case QDtype::Int4: {
      const int64_t bound = linear.weight.dtype == QDtype::Int8 ? 127 : 7;
      const int64_t columns =
          linear.weight.scope == quant::QScope::PerGroup ? in / linear.weight.group_size : 1;
      linear.weight_codes = integers({out, in}, -bound - 1, bound).to(at::kChar);
      linear.weight_scale = uniform({out, columns}, 1e-3, 0.1);
      linear.weight_offset = linear.weight.symmetric
                                 ? at::zeros({out, columns}, at::kFloat)
                                 : integers({out, columns}, -bound / 2, bound / 2).to(at::kFloat);
      break;
    }
    case QDtype::Fp8E4M3: {
      std::vector<float> grid;
      for (float v : e4m3_grid())
        grid.push_back(v);
      linear.weight_codes = pick(grid, {out, in});
      linear.weight_scale = uniform({out, 1}, 1e-4, 1e-2);
      linear.weight_offset = at::zeros({out, 1}, at::kFloat);
      break;
    }
    case QDtype::MxFp8:
    case QDtype::MxFp4: {
      const std::vector<float> grid =
          linear.weight.dtype == QDtype::MxFp8
              ? e4m3_grid()
              : std::vector<float>{0,     0.5,  1,  1.5,  2,  3,  4,  6,
                                   -0.0f, -0.5, -1, -1.5, -2, -3, -4, -6};
      linear.weight_codes = pick(grid, {out, in});
      linear.weight_scale = integers({out, (in + 31) / 32}, -20, 20).to(at::kInt);
      break;
    }
  }
  if (quant::deployed_form_spec(form.tag).activations == quant::Activations::Static) {
    linear.input_scale = uniform({1}, 1e-3, 0.1);
    // Asymmetric: a non-zero zero-point (a zero one reads back as symmetric).
    linear.input_offset =
        linear.act.symmetric ? at::zeros({1}, at::kFloat) : integers({1}, 1, 20).to(at::kFloat);
  }
  if (options.bias) linear.bias = uniform({out}, -1, 1).to(options.bias_dtype);
  return linear;
}

// A valid record of form_for(tag, options.group_size, options.asym).
inline quant::DeployedLinear random_linear(quant::DeployedTag tag, const std::string& name,
                                           const RandomLinearOptions& options = {}) {
  return random_linear(form_for(tag, options.group_size, options.asym), name, options);
}

// (codes - offset) * scale (or codes * 2^e for MX), in fp32: the weight the record deploys.
inline at::Tensor dequantized(const quant::DeployedLinear& linear) {
  using quant::QDtype;
  const at::Tensor codes = linear.weight_codes.to(at::kFloat);
  switch (linear.weight.dtype) {
    case QDtype::Float:
      return codes;
    case QDtype::MxFp8:
    case QDtype::MxFp4: {
      const at::Tensor scale =
          at::pow(2.0, linear.weight_scale.to(at::kFloat)).repeat_interleave(32, 1);
      return codes * scale.slice(1, 0, codes.size(1));
    }
    default: {
      const int64_t repeat = codes.size(1) / linear.weight_scale.size(1);
      const at::Tensor offset = linear.weight_offset.defined()
                                    ? linear.weight_offset.repeat_interleave(repeat, 1)
                                    : at::zeros_like(codes);
      return (codes - offset) * linear.weight_scale.repeat_interleave(repeat, 1);
    }
  }
}

// Bitwise equality of two tensors (dtype, shape and bytes), NaN-safe.
inline bool same_bits(const at::Tensor& a, const at::Tensor& b) {
  if (a.defined() != b.defined()) return false;
  if (!a.defined()) return true;
  if (a.scalar_type() != b.scalar_type() || a.sizes() != b.sizes()) return false;
  const at::Tensor ca = a.contiguous();
  const at::Tensor cb = b.contiguous();
  return std::memcmp(ca.data_ptr(), cb.data_ptr(), ca.nbytes()) == 0;
}

}  // namespace slim::testing
