#include "slim/eval/generate.h"

#include <ATen/ATen.h>
#include <c10/core/GradMode.h>

#include "slim/core/error.h"

namespace slim::eval {

std::vector<int64_t> generate_greedy(model::CausalLM& model, const std::vector<int64_t>& prompt,
                                     const GenerateOptions& options,
                                     const std::function<void(int64_t)>& on_token) {
  SLIM_CHECK(!prompt.empty(), "the prompt encodes to no tokens");
  c10::NoGradGuard no_grad;
  model.keep_layers_resident();
  model::KVCache cache;
  std::vector<int64_t> produced;
  at::Tensor input = at::tensor(prompt, at::kLong).unsqueeze(0);
  for (int64_t step = 0; step < options.max_new_tokens; ++step) {
    if (cache.length + input.size(1) > model.config().max_position_embeddings) break;
    const at::Tensor logits = model.forward(input, &cache);
    const int64_t next = logits[0][-1].argmax().item<int64_t>();
    produced.push_back(next);
    if (on_token) on_token(next);
    if (options.eos_id && next == *options.eos_id) break;
    input = at::tensor(std::vector<int64_t>{next}, at::kLong).unsqueeze(0);
  }
  return produced;
}

}  // namespace slim::eval
