// slim::YamlNode: a YAML::Node held by value in configs. Assigning one rebinds it; yaml-cpp's own
// Node assignment writes through to the node already referred to, aliasing two documents.
#include <gtest/gtest.h>

#include <algorithm>
#include <string>
#include <vector>

#include "slim/core/yaml_fields.h"

namespace {

std::string id_of(const YAML::Node& node) {
  return node["id"].as<std::string>();
}

TEST(YamlNode, AssignmentRebindsAndLeavesTheOtherDocumentAlone) {
  const YAML::Node a = YAML::Load("{id: a}");
  const YAML::Node b = YAML::Load("{id: b}");
  slim::YamlNode x = a;
  slim::YamlNode y = b;
  x = y;
  EXPECT_EQ(id_of(x), "b");
  EXPECT_EQ(id_of(a), "a");  // a plain Node here would have made a's document read "b"
  x = YAML::Load("{id: c}");
  EXPECT_EQ(id_of(x), "c");
  EXPECT_EQ(id_of(y), "b");
  EXPECT_EQ(id_of(b), "b");
  // Writing a child still writes into the document referred to.
  x["id"] = "d";
  EXPECT_EQ(id_of(x), "d");
}

TEST(YamlNode, SortingStructsThatHoldThemKeepsEachDocument) {
  struct Entry {
    int score;
    slim::YamlNode root;
  };
  std::vector<Entry> entries;
  for (int i = 0; i < 12; ++i)
    entries.push_back({(i * 7) % 12, YAML::Load("{id: e" + std::to_string(i) + "}")});
  std::stable_sort(entries.begin(), entries.end(),
                   [](const Entry& l, const Entry& r) { return l.score > r.score; });
  for (const auto& entry : entries) {
    // score (i * 7) % 12 is a permutation: i = score * 7 mod 12 (7 is its own inverse mod 12).
    EXPECT_EQ(id_of(entry.root), "e" + std::to_string((entry.score * 7) % 12));
  }
}

}  // namespace
