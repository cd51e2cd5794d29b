#include "slim/model/architecture.h"

namespace slim::model {

namespace {

// Defaults follow transformers' LlamaConfig, MistralConfig, Qwen2Config and Qwen3Config.
// clang-format off
const ArchitectureTraits kArchitectures[] = {
    // name                 type       qkv   attn   mlp    qknorm window                eps   theta    maxpos  window head winlayers
    {"LlamaForCausalLM",   "llama",   false, true,  true,  false, WindowRule::None,     1e-6, 10000.0, 2048,   0,    0,   0},
    {"MistralForCausalLM", "mistral", false, false, false, false, WindowRule::Always,   1e-6, 10000.0, 131072, 4096, 0,   0},
    {"Qwen2ForCausalLM",   "qwen2",   true,  false, false, false, WindowRule::WithFlag, 1e-6, 10000.0, 32768,  4096, 0,   28},
    {"Qwen3ForCausalLM",   "qwen3",   false, true,  false, true,  WindowRule::WithFlag, 1e-6, 10000.0, 32768,  4096, 128, 28},
};
// clang-format on

}  // namespace

const ArchitectureTraits* find_architecture(const std::string& name) {
  for (const auto& traits : kArchitectures) {
    if (name == traits.name) return &traits;
  }
  return nullptr;
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> names;
  for (const auto& traits : kArchitectures)
    names.emplace_back(traits.name);
  return names;
}

std::string supported_architectures_text() {
  std::string text;
  for (const auto& name : supported_architectures())
    text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace slim::model
