// Floating dtypes on the command line, shared by the commands that take one (--dtype, --outtype,
// --save_dtype); each command words its own error.
#pragma once

#include <c10/core/ScalarType.h>

#include <optional>
#include <string>

namespace slim::cli {

// "bf16" / "bfloat16", "fp16" / "float16", "fp32" / "float32"; nullopt for anything else.
std::optional<c10::ScalarType> parse_float_dtype(const std::string& name);

}  // namespace slim::cli
