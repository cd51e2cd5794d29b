// Logging setup. Code logs through spdlog directly (spdlog::info, ...); this header only chooses
// the level and the sink: everything goes to stderr so stdout stays clean for machine output.
#pragma once

#include <spdlog/spdlog.h>

#include <string>

namespace slim::logging {

// Accepts trace, debug, info, warn (warning), error, critical, off; case-insensitive.
// Throws slim::Error listing the valid names otherwise.
spdlog::level::level_enum parse_level(const std::string& name);

// Installs the stderr logger. The level comes from `level_name` when non-empty, else from the
// SLIM_LOG_LEVEL environment variable, else info.
void init(const std::string& level_name = "");

}  // namespace slim::logging
