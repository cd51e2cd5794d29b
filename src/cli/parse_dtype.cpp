#include "cli/parse_dtype.h"

namespace slim::cli {

std::optional<c10::ScalarType> parse_float_dtype(const std::string& name) {
  if (name == "bf16" || name == "bfloat16") return c10::kBFloat16;
  if (name == "fp16" || name == "float16") return c10::kHalf;
  if (name == "fp32" || name == "float32") return c10::kFloat;
  return std::nullopt;
}

}  // namespace slim::cli
