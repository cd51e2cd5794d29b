// The registry of model families: adding a family is one file in families/ plus one line here.
#include "slim/model/family.h"

namespace slim::model {

extern const FamilySpec kLlamaFamily;
extern const FamilySpec kMistralFamily;
extern const FamilySpec kQwen2Family;
extern const FamilySpec kQwen3Family;

const std::vector<const FamilySpec*>& registered_families() {
  static const std::vector<const FamilySpec*> families = {
      &kLlamaFamily,
      &kMistralFamily,
      &kQwen2Family,
      &kQwen3Family,
  };
  return families;
}

const FamilySpec* find_family(const std::string& architecture) {
  for (const FamilySpec* family : registered_families()) {
    if (architecture == family->traits.name) return family;
  }
  return nullptr;
}

}  // namespace slim::model
