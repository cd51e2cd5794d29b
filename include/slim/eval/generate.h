// Greedy decoding with a KV cache, for sanity checks of a model.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "slim/model/causal_lm.h"

namespace slim::eval {

struct GenerateOptions {
  int64_t max_new_tokens = 64;
  std::optional<int64_t> eos_id;  // stop after producing it
};

// Returns the new tokens; `on_token` (optional) sees each as it is produced.
std::vector<int64_t> generate_greedy(model::CausalLM& model, const std::vector<int64_t>& prompt,
                                     const GenerateOptions& options,
                                     const std::function<void(int64_t)>& on_token = {});

}  // namespace slim::eval
