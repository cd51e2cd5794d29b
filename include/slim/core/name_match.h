// Module-name patterns as msModelSlim's include/exclude lists use them (spec §2.7): a name matches
// when it equals the pattern, or when the pattern matches as a glob in which `*` matches any run
// of characters including dots, `?` one character, `[...]` a class, and `{a,b,1,2}` alternatives
// (nested braces allowed). Case-sensitive.
#pragma once

#include <string>
#include <vector>

namespace slim {

// The brace alternatives of `pattern`, expanded ("a.{1,2}.b" -> "a.1.b", "a.2.b"). Throws
// slim::Error naming the pattern when its braces do not balance.
std::vector<std::string> expand_braces(const std::string& pattern);
bool name_matches(const std::string& name, const std::string& pattern);
bool name_matches_any(const std::string& name, const std::vector<std::string>& patterns);

}  // namespace slim
