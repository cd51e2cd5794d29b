// Best-practice resolution (spec msmodelslim-v1.md §1.4): from --model_type, --quant_type and
// --tag to one practice config. Practices are YAML files under <root>/<pedigree>/*.yaml; the roots
// are the directory named by SLIM_CUSTOM_PRACTICE_REPO (or msModelSlim's
// MSMODELSLIM_CUSTOM_PRACTICE_REPO), searched first, then the presets bundled in the binary (the
// repository's practice/ directory, compiled in so that an installed `slim` needs no data files).
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "slim/pipeline/quant_config.h"

namespace slim::pipeline {

// `--quant_type` parsed with msModelSlim's ^w(\d+)a(\d+)((?:c8|f[48])?)(s?)$.
struct QuantType {
  std::string text;  // "w8a8"
  int w_bit = 0;
  int a_bit = 0;
  std::string suffix;  // "", "c8", "f8", "f4"
  bool sparse = false;
};
// Throws naming the value and listing supported_quant_types() when it does not parse or is not
// supported.
QuantType parse_quant_type(const std::string& text);
// The --quant_type values Slim resolves (those with a bundled preset whose processors exist).
std::vector<std::string> supported_quant_types();

// The pedigree (practice sub-directory) of a --model_type ("Qwen3-8B" -> "qwen3", "Qwen3-30B-A3B"
// -> "qwen3_moe", "Meta-Llama-3.1-8B-Instruct" -> "llama"); nullopt for a name Slim does not know
// (the caller warns and uses "default", as msModelSlim does).
std::optional<std::string> model_pedigree(const std::string& model_type);

struct PracticeRequest {
  std::string model_type;                 // "" : none given
  std::optional<std::string> quant_type;  // none: msModelSlim's default w8a8
  std::vector<std::string> tags;          // case-insensitive scenario tags
};

struct PracticeChoice {
  QuantConfig config;
  std::string pedigree;  // where it was found
  // msModelSlim asks for a `y` confirmation in these cases (§1.4); `reason` says why.
  bool needs_confirmation = false;
  std::string reason;
};

// Runs §1.4's search order over the roots. Throws slim::Error (naming the pedigree, quant type
// and the practices seen) when nothing matches.
PracticeChoice resolve_practice(const PracticeRequest& request);

// A practice by config_id ("default-w8a8"), searched in every root and pedigree; nullopt when
// none has it. (`slim quant --config_path` takes a file or a bundled practice's id.)
std::optional<QuantConfig> find_practice_by_id(const std::string& config_id);

// Every practice of every root (for `slim quant --list_practices` and the tests).
struct PracticeEntry {
  std::string root;      // the custom directory, or "<bundled>"
  std::string pedigree;  // "qwen3"
  std::string file;      // file name ("qwen3-w8a8.yaml")
  QuantConfig config;
};
std::vector<PracticeEntry> list_practices();

}  // namespace slim::pipeline
