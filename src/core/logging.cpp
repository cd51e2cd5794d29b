#include "slim/core/logging.h"

#include <spdlog/sinks/stdout_color_sinks.h>

#include <algorithm>
#include <cctype>
#include <cstdlib>

#include "slim/core/error.h"

namespace slim::logging {

spdlog::level::level_enum parse_level(const std::string& name) {
  std::string lower = name;
  std::transform(lower.begin(), lower.end(), lower.begin(),
                 [](unsigned char c) { return static_cast<char>(std::tolower(c)); });
  if (lower == "trace") return spdlog::level::trace;
  if (lower == "debug") return spdlog::level::debug;
  if (lower == "info") return spdlog::level::info;
  if (lower == "warn" || lower == "warning") return spdlog::level::warn;
  if (lower == "error") return spdlog::level::err;
  if (lower == "critical") return spdlog::level::critical;
  if (lower == "off") return spdlog::level::off;
  SLIM_FAIL("unknown log level ", quote(name),
            "; expected one of trace, debug, info, warn, error, critical, off");
}

void init(const std::string& level_name) {
  std::string chosen = level_name;
  const char* from_env = std::getenv("SLIM_LOG_LEVEL");
  if (chosen.empty() && from_env != nullptr && *from_env != '\0') {
    try {
      chosen = from_env;
      parse_level(chosen);
    } catch (const Error& error) {
      throw Error(str("SLIM_LOG_LEVEL: ", error.what()));
    }
  }
  spdlog::drop("slim");  // init() may run more than once (tests, embedding programs)
  auto logger = spdlog::stderr_color_mt("slim");
  logger->set_pattern("%^[%H:%M:%S.%e %L]%$ %v");
  logger->set_level(chosen.empty() ? spdlog::level::info : parse_level(chosen));
  spdlog::set_default_logger(logger);
}

}  // namespace slim::logging
