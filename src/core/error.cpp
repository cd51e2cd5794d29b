#include "slim/core/error.h"

namespace slim {

std::string quote(const std::string& text) {
  return "'" + text + "'";
}

void throw_internal_error(const char* file, int line, const char* condition,
                          const std::string& message) {
  throw Error(str("internal error (a bug in Slim, please report it): ", file, ":", line,
                  ": check '", condition, "' failed", message.empty() ? "" : ": ", message));
}

}  // namespace slim
