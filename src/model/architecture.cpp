#include "slim/model/architecture.h"

#include "slim/model/family.h"

namespace slim::model {

// The traits rows live with their family adapters (src/model/families/).
const ArchitectureTraits* find_architecture(const std::string& name) {
  const FamilySpec* family = find_family(name);
  return family ? &family->traits : nullptr;
}

std::vector<std::string> supported_architectures() {
  std::vector<std::string> names;
  for (const FamilySpec* family : registered_families())
    names.emplace_back(family->traits.name);
  return names;
}

std::string supported_architectures_text() {
  std::string text;
  for (const auto& name : supported_architectures())
    text += (text.empty() ? "" : ", ") + name;
  return text;
}

}  // namespace slim::model
