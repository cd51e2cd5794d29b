#include "slim/core/error.h"

#include <gtest/gtest.h>

TEST(Error, CheckBuildsMessageFromParts) {
  try {
    SLIM_CHECK(1 + 1 == 3, "tensor ", slim::quote("w"), ": expected ", 3, ", found ", 2);
    FAIL() << "no throw";
  } catch (const slim::Error& error) {
    EXPECT_STREQ(error.what(), "tensor 'w': expected 3, found 2");
  }
}

TEST(Error, InternalAssertNamesTheCondition) {
  try {
    SLIM_INTERNAL_ASSERT(false, "broken");
    FAIL() << "no throw";
  } catch (const slim::Error& error) {
    EXPECT_NE(std::string(error.what()).find("check 'false' failed: broken"), std::string::npos);
  }
}
