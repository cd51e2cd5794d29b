#include "cli/parse_size.h"

#include <utility>

#include "slim/core/error.h"

namespace slim::cli {

uint64_t parse_size(const std::string& text, const std::string& flag) {
  static const std::pair<const char*, double> kUnits[] = {
      {"", 1},     {"B", 1},        {"KB", 1e3},        {"MB", 1e6},
      {"GB", 1e9}, {"KiB", 1024.0}, {"MiB", 1048576.0}, {"GiB", 1073741824.0}};
  size_t used = 0;
  double value = 0;
  try {
    value = std::stod(text, &used);
  } catch (const std::exception&) {
    SLIM_FAIL(flag, ": ", quote(text),
              " is not a number with an optional unit (KB, MB, GB, KiB, MiB, GiB)");
  }
  const std::string unit = text.substr(used);
  SLIM_CHECK(value >= 0, flag, ": ", quote(text), " is negative");
  for (const auto& [name, scale] : kUnits) {
    if (unit == name) return static_cast<uint64_t>(value * scale);
  }
  SLIM_FAIL(flag, ": ", quote(text), " has unknown unit ", quote(unit),
            " (expected KB, MB, GB, KiB, MiB or GiB)");
}

}  // namespace slim::cli
