#include "slim/core/name_match.h"

#include <fnmatch.h>

#include "slim/core/error.h"

namespace slim {

std::vector<std::string> expand_braces(const std::string& pattern) {
  // The first '{' whose matching '}' closes it; the alternatives are split at top-level commas.
  const size_t open = pattern.find('{');
  if (open == std::string::npos) {
    SLIM_CHECK(pattern.find('}') == std::string::npos, "pattern ", quote(pattern),
               ": '}' without '{'");
    return {pattern};
  }
  int depth = 0;
  size_t close = std::string::npos;
  std::vector<size_t> commas;
  for (size_t i = open; i < pattern.size(); ++i) {
    if (pattern[i] == '{') ++depth;
    if (pattern[i] == '}' && --depth == 0) {
      close = i;
      break;
    }
    if (pattern[i] == ',' && depth == 1) commas.push_back(i);
  }
  SLIM_CHECK(close != std::string::npos, "pattern ", quote(pattern), ": '{' without '}'");
  const std::string head = pattern.substr(0, open);
  const std::string tail = pattern.substr(close + 1);
  std::vector<std::string> expanded;
  size_t start = open + 1;
  commas.push_back(close);
  for (size_t comma : commas) {
    for (const auto& alternative : expand_braces(pattern.substr(start, comma - start))) {
      for (const auto& rest : expand_braces(tail))
        expanded.push_back(head + alternative + rest);
    }
    start = comma + 1;
  }
  return expanded;
}

bool name_matches(const std::string& name, const std::string& pattern) {
  if (name == pattern) return true;
  for (const auto& glob : expand_braces(pattern)) {
    // No FNM_PATHNAME / FNM_PERIOD: '*' crosses dots, as wcmatch.fnmatch does for module names.
    if (::fnmatch(glob.c_str(), name.c_str(), 0) == 0) return true;
  }
  return false;
}

bool name_matches_any(const std::string& name, const std::vector<std::string>& patterns) {
  for (const auto& pattern : patterns) {
    if (name_matches(name, pattern)) return true;
  }
  return false;
}

}  // namespace slim
