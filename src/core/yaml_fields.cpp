#include "slim/core/yaml_fields.h"

#include "slim/core/error.h"

namespace slim {

namespace {

const char* kind_name(const YAML::Node& node) {
  switch (node.Type()) {
    case YAML::NodeType::Null:
      return "null";
    case YAML::NodeType::Scalar:
      return "a scalar";
    case YAML::NodeType::Sequence:
      return "a list";
    case YAML::NodeType::Map:
      return "a mapping";
    default:
      return "nothing";
  }
}

std::string join(const std::vector<std::string>& values) {
  std::string out;
  for (const auto& value : values)
    out += (out.empty() ? "" : ", ") + value;
  return out;
}

// The scalar text of node[key], for messages.
std::string shown(const YAML::Node& node) {
  if (node.IsScalar()) return quote(node.Scalar());
  return kind_name(node);
}

template <typename T>
T scalar_as(const YAML::Node& node, const std::string& path, const char* what) {
  SLIM_CHECK(node.IsScalar(), path, ": expected ", what, ", found ", kind_name(node),
             yaml_line(node));
  try {
    return node.as<T>();
  } catch (const YAML::Exception&) {
    SLIM_FAIL(path, ": expected ", what, ", found ", shown(node), yaml_line(node));
  }
}

}  // namespace

std::string yaml_path(const std::string& parent, const std::string& key) {
  return parent.empty() ? key : parent + "." + key;
}

std::string yaml_path(const std::string& parent, size_t index) {
  return parent + "[" + std::to_string(index) + "]";
}

std::string yaml_line(const YAML::Node& node) {
  const YAML::Mark mark = node.Mark();
  if (mark.line < 0) return "";
  return " (line " + std::to_string(mark.line + 1) + ")";
}

void require_map(const YAML::Node& node, const std::string& path) {
  SLIM_CHECK(node && node.IsMap(), path, ": expected a mapping, found ",
             node ? kind_name(node) : "nothing", node ? yaml_line(node) : "");
}

void check_keys(const YAML::Node& node, const std::string& path,
                const std::vector<std::string>& allowed) {
  require_map(node, path);
  for (const auto& entry : node) {
    const std::string key = entry.first.as<std::string>();
    bool known = false;
    for (const auto& name : allowed)
      known = known || key == name;
    SLIM_CHECK(known, yaml_path(path, key), ": unknown key", yaml_line(entry.first),
               "; allowed keys: ", join(allowed));
  }
}

namespace {

// node[key] when the key is there and not null.
std::optional<YAML::Node> present(const YAML::Node& node, const std::string& key) {
  if (!node.IsMap()) return std::nullopt;
  const YAML::Node value = node[key];
  if (!value.IsDefined() || value.IsNull()) return std::nullopt;
  return value;
}

}  // namespace

bool yaml_bool(const YAML::Node& node, const std::string& key, const std::string& path,
               bool fallback) {
  const std::optional<YAML::Node> value = present(node, key);
  if (!value) return fallback;
  return scalar_as<bool>(*value, yaml_path(path, key), "true or false");
}

double yaml_double(const YAML::Node& node, const std::string& key, const std::string& path,
                   double fallback) {
  const std::optional<YAML::Node> value = present(node, key);
  if (!value) return fallback;
  return scalar_as<double>(*value, yaml_path(path, key), "a number");
}

int64_t yaml_int(const YAML::Node& node, const std::string& key, const std::string& path,
                 int64_t fallback) {
  const std::optional<YAML::Node> value = present(node, key);
  if (!value) return fallback;
  return scalar_as<int64_t>(*value, yaml_path(path, key), "an integer");
}

std::string yaml_string(const YAML::Node& node, const std::string& key, const std::string& path,
                        const std::string& fallback) {
  const std::optional<YAML::Node> value = present(node, key);
  if (!value) return fallback;
  return scalar_as<std::string>(*value, yaml_path(path, key), "a string");
}

std::optional<std::string> yaml_optional_string(const YAML::Node& node, const std::string& key,
                                                const std::string& path) {
  const std::optional<YAML::Node> value = present(node, key);
  if (!value) return std::nullopt;
  return scalar_as<std::string>(*value, yaml_path(path, key), "a string");
}

std::string yaml_choice(const YAML::Node& node, const std::string& key, const std::string& path,
                        const std::vector<std::string>& allowed, const std::string& fallback) {
  const std::string value = yaml_string(node, key, path, fallback);
  for (const auto& name : allowed) {
    if (value == name) return value;
  }
  SLIM_FAIL(yaml_path(path, key), ": expected one of ", join(allowed), ", found ", quote(value),
            yaml_line(node[key]));
}

std::vector<std::string> yaml_string_list(const YAML::Node& node, const std::string& key,
                                          const std::string& path,
                                          const std::vector<std::string>& fallback) {
  const std::optional<YAML::Node> found = present(node, key);
  if (!found) return fallback;
  const YAML::Node& value = *found;
  const std::string where = yaml_path(path, key);
  if (value.IsScalar()) return {value.as<std::string>()};
  SLIM_CHECK(value.IsSequence(), where, ": expected a list of strings, found ", kind_name(value),
             yaml_line(value));
  std::vector<std::string> out;
  for (size_t i = 0; i < value.size(); ++i)
    out.push_back(scalar_as<std::string>(value[i], yaml_path(where, i), "a string"));
  return out;
}

}  // namespace slim
