// EXPECT_ERROR_WITH(statement, fragments...): expects `statement` to throw slim::Error whose
// message contains every fragment (each convertible to std::string).
#pragma once

#include <gtest/gtest.h>

#include <initializer_list>
#include <string>

#include "slim/core/error.h"

namespace slim::testing {

inline void expect_message_has(const std::string& message,
                               std::initializer_list<std::string> fragments) {
  for (const auto& fragment : fragments) {
    EXPECT_NE(message.find(fragment), std::string::npos)
        << "message '" << message << "' lacks '" << fragment << "'";
  }
}

}  // namespace slim::testing

#define EXPECT_ERROR_WITH(statement, ...)                                   \
  EXPECT_THROW(                                                             \
      {                                                                     \
        SCOPED_TRACE(#statement);                                           \
        try {                                                               \
          statement;                                                        \
        } catch (const ::slim::Error& error) {                              \
          ::slim::testing::expect_message_has(error.what(), {__VA_ARGS__}); \
          throw;                                                            \
        }                                                                   \
      },                                                                    \
      ::slim::Error)
