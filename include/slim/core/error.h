// Error vocabulary of Slim.
//
// slim::Error is for problems a user can fix (bad file, bad key, bad argument); its message names
// the file, tensor, key or line, what was expected and what was found. SLIM_INTERNAL_ASSERT is for
// broken invariants of Slim itself. Messages are built from streamable parts only on failure.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace slim {

class Error : public std::runtime_error {
 public:
  explicit Error(std::string message) : std::runtime_error(std::move(message)) {}
};

// Concatenates streamable values: str("tensor ", name, ": ", 3) -> "tensor x: 3".
template <typename... Parts>
std::string str(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}

// Quotes a user-provided string (single quotes; named so that ADL never picks std::quoted) so empty
// names and trailing spaces are visible in messages.
std::string quote(const std::string& text);

[[noreturn]] void throw_internal_error(const char* file, int line, const char* condition,
                                       const std::string& message);

}  // namespace slim

#define SLIM_CHECK(condition, ...)                   \
  do {                                               \
    if (!(condition)) {                              \
      throw ::slim::Error(::slim::str(__VA_ARGS__)); \
    }                                                \
  } while (false)

#define SLIM_FAIL(...) throw ::slim::Error(::slim::str(__VA_ARGS__))

#define SLIM_INTERNAL_ASSERT(condition, ...)                                                  \
  do {                                                                                        \
    if (!(condition)) {                                                                       \
      ::slim::throw_internal_error(__FILE__, __LINE__, #condition, ::slim::str(__VA_ARGS__)); \
    }                                                                                         \
  } while (false)
