// expect_same_record: a DeployedLinear read back from a saved checkpoint equals the one saved.
#pragma once

#include <ATen/ATen.h>
#include <gtest/gtest.h>

#include <string>

#include "slim/quant/scheme.h"
#include "support/deployed_records.h"

namespace slim::testing {

// Bit for bit, field by field. Ascend V1 stores W8A8's deq_scale = s_x·s_w, not s_w, so with
// `w8a8_scale_from_deq_scale` a W8A8 weight_scale (and the dequantized weight) is not compared.
// Biases are compared as fp32 values (quantized formats may store them as fp32).
inline void expect_same_record(const quant::DeployedLinear& saved,
                               const quant::DeployedLinear& loaded,
                               bool w8a8_scale_from_deq_scale = true) {
  using quant::DeployedTag;
  SCOPED_TRACE(saved.name + " " + quant::tag_name(saved.tag));
  const bool skip_scale = w8a8_scale_from_deq_scale && saved.tag == DeployedTag::W8A8;
  EXPECT_EQ(loaded.name, saved.name);
  EXPECT_EQ(loaded.tag, saved.tag);
  EXPECT_EQ(loaded.act, saved.act) << loaded.act.to_string() << " vs " << saved.act.to_string();
  EXPECT_EQ(loaded.weight, saved.weight)
      << loaded.weight.to_string() << " vs " << saved.weight.to_string();
  EXPECT_EQ(loaded.model_dtype, saved.model_dtype);
  EXPECT_TRUE(same_bits(loaded.weight_codes, saved.weight_codes));
  if (!skip_scale) {
    EXPECT_TRUE(same_bits(loaded.weight_scale, saved.weight_scale));
  }
  if (saved.weight_offset.defined()) {
    EXPECT_TRUE(same_bits(loaded.weight_offset, saved.weight_offset));
  }
  EXPECT_TRUE(same_bits(loaded.input_scale, saved.input_scale));
  EXPECT_TRUE(same_bits(loaded.input_offset, saved.input_offset));
  ASSERT_EQ(loaded.bias.has_value(), saved.bias.has_value());
  if (saved.bias) {
    EXPECT_TRUE(same_bits(loaded.bias->to(at::kFloat), saved.bias->to(at::kFloat)));
  }
  if (!skip_scale) {
    EXPECT_TRUE(same_bits(dequantized(loaded), dequantized(saved)));
  }
}

}  // namespace slim::testing
