// Model families: one adapter per Hugging Face architecture, registered in
// src/model/family_registry.cpp. An adapter declares what differs between families (the
// ArchitectureTraits row) and the smoothing subgraphs later algorithms use; the decoder layer
// itself is shared (src/model/decoder.cpp).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "slim/io/model_config.h"
#include "slim/model/architecture.h"

namespace slim::model {

// A smoothing subgraph, as msModelSlim's adapters declare them: `type` is "norm-linear",
// "linear-linear", "ov" or "up-down"; `source` is the norm or linear whose output feeds `targets`
// (Hugging Face names: "model.layers.3.input_layernorm", "model.layers.3.self_attn.q_proj").
struct Subgraph {
  std::string type;
  std::string source;
  std::vector<std::string> targets;
};

struct FamilySpec {
  ArchitectureTraits traits;
  std::vector<Subgraph> (*subgraphs)(const io::ModelConfig& config, int64_t layer);
};

const std::vector<const FamilySpec*>& registered_families();
// nullptr when unknown.
const FamilySpec* find_family(const std::string& architecture);

}  // namespace slim::model
