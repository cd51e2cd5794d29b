// Strict, typed reading of YAML mappings for configs (msModelSlim V1/V0 practice files): every
// error names the key path ("spec.process[1].qconfig.weight.scope"), the value found and the values
// allowed; unknown keys are refused by check_keys. yaml-cpp nodes keep their source line, which the
// messages add when known.
#pragma once

#include <yaml-cpp/yaml.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

namespace slim {

// A YAML::Node to keep in a struct that is copied and assigned (configs, sorted practice lists).
// yaml-cpp's Node::operator= writes through: assigning to a Node that already refers to a node
// makes that node (and every other handle on it, in its own document) a reference to the
// right-hand side, so sorting a vector of configs rewrote other configs' documents. This handle
// rebinds instead (Node::reset), as a value type should; reading is the Node's own interface.
class YamlNode : public YAML::Node {
 public:
  YamlNode() = default;
  YamlNode(const YAML::Node& node) : YAML::Node(node) {}  // NOLINT: implicit, as a Node
  YamlNode(const YamlNode& other) = default;
  YamlNode& operator=(const YamlNode& other) {
    reset(other);
    return *this;
  }
  YamlNode& operator=(const YAML::Node& other) {
    reset(other);
    return *this;
  }
};

// "spec.process[2]" + "qconfig" -> "spec.process[2].qconfig"; index: "spec.process" + 2.
std::string yaml_path(const std::string& parent, const std::string& key);
std::string yaml_path(const std::string& parent, size_t index);
// " (line 12)" when the node has a source mark, else "".
std::string yaml_line(const YAML::Node& node);

// Throws unless `node` is a mapping ("<path>: expected a mapping, found a sequence (line 3)").
void require_map(const YAML::Node& node, const std::string& path);
// Throws naming the first key of `node` (a mapping) that is not in `allowed`, listing `allowed`.
void check_keys(const YAML::Node& node, const std::string& path,
                const std::vector<std::string>& allowed);

// Typed getters of `node[key]`: the default when the key is absent or null; a value of the wrong
// type is an error naming the path and the value.
bool yaml_bool(const YAML::Node& node, const std::string& key, const std::string& path,
               bool fallback);
double yaml_double(const YAML::Node& node, const std::string& key, const std::string& path,
                   double fallback);
int64_t yaml_int(const YAML::Node& node, const std::string& key, const std::string& path,
                 int64_t fallback);
std::string yaml_string(const YAML::Node& node, const std::string& key, const std::string& path,
                        const std::string& fallback);
std::optional<std::string> yaml_optional_string(const YAML::Node& node, const std::string& key,
                                                const std::string& path);
// One of `allowed` (case-sensitive, as msModelSlim's pydantic enums).
std::string yaml_choice(const YAML::Node& node, const std::string& key, const std::string& path,
                        const std::vector<std::string>& allowed, const std::string& fallback);
// A list of strings; a single string is read as a one-element list (msModelSlim accepts both for
// include/exclude). Absent or null: `fallback`.
std::vector<std::string> yaml_string_list(const YAML::Node& node, const std::string& key,
                                          const std::string& path,
                                          const std::vector<std::string>& fallback);

}  // namespace slim
