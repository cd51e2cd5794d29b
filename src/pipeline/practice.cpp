#include "slim/pipeline/practice.h"

#include <spdlog/spdlog.h>

#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <regex>

#include "pipeline/bundled_practices.h"
#include "slim/core/error.h"
#include "slim/core/files.h"
#include "slim/core/text.h"

namespace slim::pipeline {

namespace {

namespace fs = std::filesystem;

constexpr const char* kBundledRoot = "<bundled>";
constexpr const char* kDefaultPedigree = "default";

std::string lower(std::string text) {
  std::transform(text.begin(), text.end(), text.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  return text;
}

std::optional<std::string> custom_root() {
  for (const char* name : {"SLIM_CUSTOM_PRACTICE_REPO", "MSMODELSLIM_CUSTOM_PRACTICE_REPO"}) {
    const char* value = std::getenv(name);
    if (value && *value) {
      SLIM_CHECK(fs::is_directory(value), name, "=", quote(value), ": not a directory");
      return std::string(value);
    }
  }
  return std::nullopt;
}

// Practices of one pedigree, custom root first, each root sorted by (-score, config_id).
std::vector<PracticeEntry> practices_of(const std::string& pedigree) {
  std::vector<PracticeEntry> out;
  for (const auto& entry : list_practices()) {
    if (entry.pedigree == pedigree) out.push_back(entry);
  }
  return out;
}

enum class Verdict { NoMatch, Match, Standby };

bool label_matches(const PracticeLabel& label, const QuantType& type) {
  std::optional<int> fa_bit;
  if (type.suffix == "f4") fa_bit = 4;
  if (type.suffix == "f8") fa_bit = 8;
  return label.w_bit == type.w_bit && label.a_bit == type.a_bit && label.is_sparse == type.sparse &&
         label.kv_cache == (type.suffix == "c8") && label.fa_bit == fa_bit;
}

Verdict check(const PracticeEntry& entry, const PracticeRequest& request, const QuantType& type) {
  const PracticeMetadata& metadata = entry.config.metadata;
  if (!label_matches(metadata.label, type)) return Verdict::NoMatch;
  if (entry.pedigree == kDefaultPedigree) return Verdict::Match;
  if (!metadata.verified_model_types.empty()) {
    const auto& types = metadata.verified_model_types;
    return std::find(types.begin(), types.end(), request.model_type) != types.end()
               ? Verdict::Match
               : Verdict::NoMatch;
  }
  auto scenarios = metadata.verified_tags.find(request.model_type);
  if (scenarios == metadata.verified_tags.end() || scenarios->second.empty())
    return Verdict::NoMatch;
  if (request.tags.empty()) return Verdict::Match;
  for (const auto& scenario : scenarios->second) {
    bool all = true;
    for (const auto& tag : request.tags) {
      bool found = false;
      for (const auto& have : scenario)
        found = found || lower(have) == lower(tag);
      all = all && found;
    }
    if (all) return Verdict::Match;
  }
  return Verdict::Standby;
}

std::optional<PracticeChoice> search(const std::string& pedigree, const PracticeRequest& request,
                                     const QuantType& type, bool prompt_on_match,
                                     const std::string& why) {
  std::optional<PracticeChoice> standby;
  for (const auto& entry : practices_of(pedigree)) {
    const Verdict verdict = check(entry, request, type);
    if (verdict == Verdict::Match) {
      return PracticeChoice{entry.config, pedigree, prompt_on_match, why};
    }
    if (verdict == Verdict::Standby && !standby) {
      standby = PracticeChoice{entry.config, pedigree, true,
                               "practice " + entry.config.metadata.config_id + " is verified for " +
                                   request.model_type +
                                   " but not in a scenario with every requested tag"};
    }
  }
  return standby;
}

}  // namespace

QuantType parse_quant_type(const std::string& text) {
  static const std::regex pattern("^w(\\d+)a(\\d+)((?:c8|f[48])?)(s?)$");
  std::smatch match;
  std::string supported;
  for (const auto& name : supported_quant_types())
    supported += (supported.empty() ? "" : ", ") + name;
  SLIM_CHECK(std::regex_match(text, match, pattern), "--quant_type: expected one of ", supported,
             ", found ", quote(text));
  QuantType type;
  type.text = text;
  type.w_bit = std::stoi(match[1].str());
  type.a_bit = std::stoi(match[2].str());
  type.suffix = match[3].str();
  type.sparse = !match[4].str().empty();
  const auto names = supported_quant_types();
  SLIM_CHECK(std::find(names.begin(), names.end(), text) != names.end(), "--quant_type ",
             quote(text),
             ": no bundled practice implements it yet (its processors are not in "
             "Slim yet); supported: ",
             supported, "; or pass --config_path");
  return type;
}

std::vector<std::string> supported_quant_types() {
  std::vector<std::string> out;
  for (const auto& entry : list_practices()) {
    if (entry.pedigree != kDefaultPedigree) continue;
    const PracticeLabel& label = entry.config.metadata.label;
    std::string name = "w" + std::to_string(label.w_bit) + "a" + std::to_string(label.a_bit);
    if (label.kv_cache) name += "c8";
    if (label.fa_bit) name += "f" + std::to_string(*label.fa_bit);
    if (label.is_sparse) name += "s";
    if (std::find(out.begin(), out.end(), name) == out.end()) out.push_back(name);
  }
  std::sort(out.begin(), out.end());
  return out;
}

std::optional<std::string> model_pedigree(const std::string& model_type) {
  // Mixture-of-experts Qwen names carry the active parameters: Qwen3-30B-A3B.
  static const std::regex moe(".*-A[0-9.]+B.*");
  const bool is_moe = std::regex_match(model_type, moe);
  if (starts_with(model_type, "Qwen3-") || starts_with(model_type, "sotu-qwen3"))
    return is_moe ? "qwen3_moe" : "qwen3";
  if (starts_with(model_type, "Qwen2-") || starts_with(model_type, "Qwen2.5-") ||
      starts_with(model_type, "QwQ-")) {
    if (is_moe) return std::nullopt;  // Qwen2-MoE: no practice of its own
    return "qwen2";
  }
  if (starts_with(model_type, "Mixtral-")) return "mixtral";
  for (const char* prefix :
       {"Llama-", "Meta-Llama-", "llama-", "Mistral-", "SmolLM2-", "sotu-llama"}) {
    if (starts_with(model_type, prefix)) return "llama";
  }
  return std::nullopt;
}

std::vector<PracticeEntry> list_practices() {
  std::vector<PracticeEntry> custom;
  if (const auto root = custom_root()) {
    for (const auto& dir : fs::directory_iterator(*root)) {
      if (!dir.is_directory()) continue;
      for (const auto& file : fs::directory_iterator(dir.path())) {
        if (file.path().extension() != ".yaml" && file.path().extension() != ".yml") continue;
        custom.push_back({*root, dir.path().filename().string(), file.path().filename().string(),
                          load_quant_config(file.path().string())});
      }
    }
  }
  std::vector<PracticeEntry> bundled;
  for (const auto& practice : bundled_practices()) {
    const fs::path path(practice.path);  // practice/<pedigree>/<file>
    bundled.push_back({kBundledRoot, path.parent_path().filename().string(),
                       path.filename().string(),
                       parse_quant_config(practice.contents, practice.path)});
  }
  auto by_score = [](const PracticeEntry& a, const PracticeEntry& b) {
    if (a.config.metadata.score != b.config.metadata.score)
      return a.config.metadata.score > b.config.metadata.score;
    return a.config.metadata.config_id < b.config.metadata.config_id;
  };
  std::stable_sort(custom.begin(), custom.end(), by_score);
  std::stable_sort(bundled.begin(), bundled.end(), by_score);
  custom.insert(custom.end(), bundled.begin(), bundled.end());
  return custom;
}

std::optional<QuantConfig> find_practice_by_id(const std::string& config_id) {
  for (const auto& entry : list_practices()) {
    if (entry.config.metadata.config_id == config_id) return entry.config;
  }
  return std::nullopt;
}

PracticeChoice resolve_practice(const PracticeRequest& request) {
  std::string pedigree = kDefaultPedigree;
  if (const auto known = model_pedigree(request.model_type)) {
    pedigree = *known;
  } else {
    spdlog::warn(
        "--model_type {}: not a model Slim has practices for; using the default "
        "pedigree (accuracy not verified)",
        quote(request.model_type));
  }
  const bool given = request.quant_type.has_value();
  const QuantType type = parse_quant_type(request.quant_type.value_or("w8a8"));
  const bool is_default = pedigree == kDefaultPedigree;
  // Step 1 (and 1b, a STANDBY).
  if (auto choice = search(
          pedigree, request, type, !given || is_default,
          given ? "the default pedigree's practice: accuracy not verified for " + request.model_type
                : "no --quant_type given: w8a8")) {
    return *choice;
  }
  // Step 2: the default pedigree.
  if (!is_default) {
    if (auto choice = search(kDefaultPedigree, request, type, true,
                             "no " + pedigree + " practice for " + type.text +
                                 "; the default practice, accuracy not guaranteed")) {
      return *choice;
    }
  }
  std::string seen;
  for (const auto& entry : practices_of(pedigree))
    seen += (seen.empty() ? "" : ", ") + entry.config.metadata.config_id;
  SLIM_FAIL("no practice for --model_type ", quote(request.model_type), " (pedigree ", pedigree,
            ") and --quant_type ", type.text,
            "; practices of the pedigree: ", seen.empty() ? "none" : seen, "; pass --config_path");
}

}  // namespace slim::pipeline
