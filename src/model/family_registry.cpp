// The registry of model families: adding a family is one file in families/ plus one line here.
#include "slim/core/error.h"
#include "slim/model/family.h"

namespace slim::model {

extern const FamilySpec kLlamaFamily;
extern const FamilySpec kMistralFamily;
extern const FamilySpec kQwen2Family;
extern const FamilySpec kQwen3Family;
extern const FamilySpec kQwen2MoeFamily;
extern const FamilySpec kQwen3MoeFamily;
extern const FamilySpec kMixtralFamily;

const std::vector<const FamilySpec*>& registered_families() {
  static const std::vector<const FamilySpec*> families = {
      &kLlamaFamily,    &kMistralFamily,  &kQwen2Family,   &kQwen3Family,
      &kQwen2MoeFamily, &kQwen3MoeFamily, &kMixtralFamily,
  };
  return families;
}

const FamilySpec* find_family(const std::string& architecture) {
  for (const FamilySpec* family : registered_families()) {
    if (architecture == family->traits.name) return family;
  }
  return nullptr;
}

const FamilySpec& family_of(const io::ModelConfig& config) {
  const FamilySpec* family = find_family(config.architecture);
  SLIM_INTERNAL_ASSERT(family != nullptr, "parsed config without a family: ", config.architecture);
  return *family;
}

}  // namespace slim::model
