// The bundled calibration and evaluation sets load through Slim's dataset reader as documented.
#include <gtest/gtest.h>

#include "slim/io/dataset.h"
#include "slim_test_paths.h"

namespace {

TEST(BundledData, CalibrationSetHas128SamplesFromBefore2001) {
  const auto samples =
      slim::io::load_text_dataset(std::string(SLIM_SOURCE_DIR) + "/data/calib/sotu_calib.jsonl",
                                  slim::io::DatasetUse::Calibration);
  ASSERT_EQ(samples.size(), 128u);
  for (const auto& sample : samples) {
    EXPECT_GT(sample.size(), 1000u);
    EXPECT_LT(sample.size(), 6000u);
  }
  EXPECT_NE(samples.front().find("Fellow-Citizens"), std::string::npos);
}

TEST(BundledData, EvaluationSetIsTheHeldOutAddresses) {
  const auto samples =
      slim::io::load_text_dataset(std::string(SLIM_SOURCE_DIR) + "/data/eval/sotu_2001_2021.txt",
                                  slim::io::DatasetUse::Evaluation);
  ASSERT_EQ(samples.size(), 1u);
  EXPECT_GT(samples[0].size(), 600000u);
  // Held out means no address before 2001: the 2001 address opens the file.
  EXPECT_EQ(samples[0].rfind(
                "Mr. Speaker, Mr. Vice President, Members of Congress: It's a great privilege", 0),
            0u);
}

}  // namespace
