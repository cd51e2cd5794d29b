// The one UTF-8 validity rule of Slim (datasets, tokenizers): shortest form only, no surrogates,
// nothing beyond U+10FFFF.
#pragma once

#include <cstddef>
#include <string_view>

namespace slim {

// Length (1-4) of the valid UTF-8 sequence `text` starts with, or 0 when it does not start with
// one (or is empty).
size_t valid_utf8_length(std::string_view text);

}  // namespace slim
