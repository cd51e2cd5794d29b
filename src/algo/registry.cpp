// The processor registry: YAML `type` -> factory. Adding an algorithm is one file in src/algo/
// plus one line here.
#include <spdlog/spdlog.h>

#include "algo/processors.h"
#include "slim/core/error.h"

namespace slim::algo {

namespace {

struct ProcessorEntry {
  const char* type;
  std::unique_ptr<Processor> (*make)(const pipeline::ProcessorConfig&);
};

constexpr ProcessorEntry kProcessors[] = {
    {"linear_quant", make_linear_quant},
    {"group", make_group},
    {"smooth_quant", make_smooth_quant},
    {"iter_smooth", make_iter_smooth},
    {"flex_smooth_quant", make_flex_smooth_quant},
    {"awq", make_awq},
    {"kv_smooth", make_kv_smooth},
    {"flex_awq_ssz", make_flex_awq_ssz},
    {"quarot", make_quarot},
};

// msModelSlim's processor types (spec §2.4) that Slim does not implement yet, so that a config
// naming one is told it is known but not available, rather than misspelled.
constexpr const char* kPlannedTypes[] = {"dynamic_cache",  "fa3_quant",       "online_quarot",
                                         "adapt_rotation", "autoround_quant", "float_sparse",
                                         "flatquant",      "svd_res"};

std::string type_list() {
  std::string out;
  for (const auto& entry : kProcessors)
    out += (out.empty() ? "" : ", ") + std::string(entry.type);
  return out;
}

}  // namespace

void RunContext::warn(const std::string& message) const {
  spdlog::warn("{}", message);
  if (warnings) warnings->push_back(message);
}

std::unique_ptr<Processor> make_processor(const pipeline::ProcessorConfig& config) {
  for (const auto& entry : kProcessors) {
    if (config.type == entry.type) return entry.make(config);
  }
  for (const char* planned : kPlannedTypes) {
    if (config.type == planned) {
      SLIM_FAIL(
          config.path, ".type: processor ", quote(config.type),
          " (msModelSlim) is not implemented in Slim yet; processors Slim has: ", type_list());
    }
  }
  SLIM_FAIL(config.path, ".type: unknown processor ", quote(config.type),
            "; processors Slim has: ", type_list());
}

std::vector<std::string> processor_types() {
  std::vector<std::string> out;
  for (const auto& entry : kProcessors)
    out.emplace_back(entry.type);
  return out;
}

}  // namespace slim::algo
