#include "slim/core/progress.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <optional>
#include <string>
#include <vector>

#include "slim/core/error.h"
#include "slim/core/logging.h"
#include "support/expect_error.h"

namespace {

using slim::format_duration;
using slim::Progress;
using slim::ProgressOptions;

std::vector<std::string> split_lines(const std::string& text) {
  std::vector<std::string> lines;
  size_t start = 0;
  while (start < text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    lines.push_back(text.substr(start, end - start));
    start = end + 1;
  }
  return lines;
}

// ----------------------------------------------------------------------------- formatting

TEST(ProgressFormat, DurationSeconds) {
  EXPECT_EQ(format_duration(0), "0.0 s");
  EXPECT_EQ(format_duration(1.5), "1.5 s");
  EXPECT_EQ(format_duration(0.04), "0.0 s");
  EXPECT_EQ(format_duration(59.9), "59.9 s");
}

TEST(ProgressFormat, DurationMinutes) {
  EXPECT_EQ(format_duration(60), "1 min 00 s");
  EXPECT_EQ(format_duration(125), "2 min 05 s");
  EXPECT_EQ(format_duration(125.4), "2 min 05 s");
  EXPECT_EQ(format_duration(125.6), "2 min 06 s");
  EXPECT_EQ(format_duration(3599), "59 min 59 s");
}

TEST(ProgressFormat, DurationHours) {
  EXPECT_EQ(format_duration(3600), "1 h 00 min");
  EXPECT_EQ(format_duration(3720), "1 h 02 min");
  EXPECT_EQ(format_duration(2 * 3600 + 59 * 60 + 40), "3 h 00 min");  // rounded to minutes
  EXPECT_EQ(format_duration(100 * 3600), "100 h 00 min");
}

TEST(ProgressFormat, DurationUnknown) {
  EXPECT_EQ(format_duration(-1), "?");
  EXPECT_EQ(format_duration(std::numeric_limits<double>::infinity()), "?");
  EXPECT_EQ(format_duration(std::nan("")), "?");
}

TEST(ProgressFormat, LineWithKnownTotal) {
  EXPECT_EQ(Progress::format_line("quantize", 50, 200, "layer", 10.0),
            "quantize:  25.0% 50/200 layer, 5.00 layer/s, elapsed 10.0 s, ETA 30.0 s");
  // Slower than one per second: seconds per item.
  EXPECT_EQ(Progress::format_line("calibrate", 1, 3, "batch", 2.0),
            "calibrate:  33.3% 1/3 batch, 2.00 s/batch, elapsed 2.0 s, ETA 4.0 s");
  EXPECT_EQ(Progress::format_line("write", 10, 1000, "MB", 2.0),
            "write:   1.0% 10/1000 MB, 5.00 MB/s, elapsed 2.0 s, ETA 3 min 18 s");
}

TEST(ProgressFormat, LineAtAndPastTheEndHasNoEta) {
  EXPECT_EQ(Progress::format_line("load", 8, 8, "file", 4.0),
            "load: 100.0% 8/8 file, 2.00 file/s, elapsed 4.0 s");
  EXPECT_EQ(Progress::format_line("load", 9, 8, "file", 4.5),
            "load: 112.5% 9/8 file, 2.00 file/s, elapsed 4.5 s");
}

TEST(ProgressFormat, LineAtTheStartHasUnknownEta) {
  EXPECT_EQ(Progress::format_line("eval", 0, 40, "sample", 0.0),
            "eval:   0.0% 0/40 sample, 0.00 sample/s, elapsed 0.0 s, ETA ?");
  EXPECT_EQ(Progress::format_line("eval", 0, 40, "sample", 3.0),
            "eval:   0.0% 0/40 sample, 0.00 sample/s, elapsed 3.0 s, ETA ?");
}

TEST(ProgressFormat, LineWithUnknownTotal) {
  EXPECT_EQ(Progress::format_line("tokenize", 1500, 0, "tok", 2.0),
            "tokenize: 1500 tok, 750.00 tok/s, elapsed 2.0 s");
  EXPECT_EQ(Progress::format_line("tokenize", 7, -1, "tok", 0.0),
            "tokenize: 7 tok, 0.00 tok/s, elapsed 0.0 s");
  const std::string line = Progress::format_line("scan", 3, 0, "file", 100.0);
  EXPECT_EQ(line.find('%'), std::string::npos) << line;
  EXPECT_EQ(line.find("ETA"), std::string::npos) << line;
}

TEST(ProgressFormat, LargeRatesUseKiloAndMega) {
  EXPECT_EQ(Progress::format_line("read", 3000, 0, "B", 2.0),
            "read: 3000 B, 1.50k B/s, elapsed 2.0 s");
  EXPECT_EQ(Progress::format_line("read", 5000000, 0, "B", 2.0),
            "read: 5000000 B, 2.50M B/s, elapsed 2.0 s");
}

// ------------------------------------------------------------------------------- drawing

// A Progress writing to a temporary file, driven by a fake clock.
class ProgressOutput : public ::testing::Test {
 protected:
  void SetUp() override {
    // SLIM_PROGRESS=0 in the environment would silence every test here.
    if (const char* value = std::getenv("SLIM_PROGRESS")) saved_env_ = value;
    ::unsetenv("SLIM_PROGRESS");
    file_ = std::tmpfile();
    ASSERT_NE(file_, nullptr);
  }
  void TearDown() override {
    if (file_ != nullptr) std::fclose(file_);
    if (saved_env_) {
      ::setenv("SLIM_PROGRESS", saved_env_->c_str(), 1);
    } else {
      ::unsetenv("SLIM_PROGRESS");
    }
  }

  ProgressOptions options(int tty) {
    ProgressOptions result;
    result.stream = file_;
    result.tty = tty;
    result.plain_interval_s = 10.0;
    result.tty_interval_s = 0.1;
    result.clock = [this] { return now_; };
    return result;
  }

  // Everything written to the file so far.
  std::string output() {
    std::fflush(file_);
    std::rewind(file_);
    std::string text;
    char buffer[4096];
    size_t read;
    while ((read = std::fread(buffer, 1, sizeof buffer, file_)) > 0)
      text.append(buffer, read);
    std::fseek(file_, 0, SEEK_END);
    return text;
  }

  std::FILE* file_ = nullptr;
  double now_ = 1000.0;  // an arbitrary epoch: only differences matter
  std::optional<std::string> saved_env_;
};

TEST_F(ProgressOutput, TheDetailFollowsThePositionUntilTheEnd) {
  Progress progress("quantize", 2, "layers", options(0));
  progress.set_detail("layer 1: linear_quant");  // the first update always prints
  now_ += 20;
  progress.advance();
  now_ += 20;
  progress.set_detail("layer 2: deployed forward of 4 samples");
  now_ += 20;
  progress.advance();  // the end: no detail
  progress.finish();
  const std::string text = output();
  EXPECT_NE(text.find("0/2 layers, 0.00 layers/s, elapsed 0.0 s, ETA ?; layer 1: linear_quant\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("1/2 layers, 20.00 s/layers, elapsed 20.0 s, ETA 20.0 s; layer 1: "
                      "linear_quant\n"),
            std::string::npos)
      << text;
  EXPECT_NE(text.find("; layer 2: deployed forward of 4 samples\n"), std::string::npos) << text;
  EXPECT_NE(text.find("2/2 layers, 30.00 s/layers, elapsed 1 min 00 s\n"), std::string::npos)
      << text;
}

TEST_F(ProgressOutput, PlainLinesOnlyEveryIntervalAndAtFinish) {
  Progress progress("calibrate", 100, "sample", options(0));
  progress.advance();  // the first update always prints
  EXPECT_EQ(output(), "calibrate:   1.0% 1/100 sample, 0.00 sample/s, elapsed 0.0 s, ETA ?\n");

  now_ += 5.0;
  progress.advance();
  now_ += 4.5;
  progress.advance(5);
  EXPECT_EQ(split_lines(output()).size(), 1u) << "printed before plain_interval_s passed";

  now_ += 0.5;  // 10 s after the first line
  progress.advance();
  EXPECT_EQ(progress.position(), 8);
  now_ += 2.0;
  progress.set_position(100);
  progress.finish();
  progress.finish();  // once only

  const std::string text = output();
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(text,
            "calibrate:   1.0% 1/100 sample, 0.00 sample/s, elapsed 0.0 s, ETA ?\n"
            "calibrate:   8.0% 8/100 sample, 1.25 s/sample, elapsed 10.0 s, ETA 1 min 55 s\n"
            "calibrate: 100.0% 100/100 sample, 8.33 sample/s, elapsed 12.0 s\n");
}

TEST_F(ProgressOutput, PlainLinesKeepComingAtTheInterval) {
  Progress progress("scan", 0, "file", options(0));
  for (int step = 0; step < 100; ++step) {  // 1 s per step: 100 s
    progress.advance();
    now_ += 1.0;
  }
  progress.finish();
  const std::vector<std::string> lines = split_lines(output());
  // Steps 0, 10, ..., 90 print, then finish() prints once more.
  ASSERT_EQ(lines.size(), 11u);
  EXPECT_EQ(lines[0], "scan: 1 file, 0.00 file/s, elapsed 0.0 s");
  EXPECT_EQ(lines[1], "scan: 11 file, 1.10 file/s, elapsed 10.0 s");
  EXPECT_EQ(lines[9], "scan: 91 file, 1.01 file/s, elapsed 1 min 30 s");
  EXPECT_EQ(lines[10], "scan: 100 file, 1.00 file/s, elapsed 1 min 40 s");
  for (const auto& line : lines)
    EXPECT_EQ(line.find("ETA"), std::string::npos) << line;
}

TEST_F(ProgressOutput, DestructorPrintsTheFinalLine) {
  {
    Progress progress("load", 4, "shard", options(0));
    progress.advance();
    now_ += 1.0;
    progress.advance();
  }
  EXPECT_EQ(output(),
            "load:  25.0% 1/4 shard, 0.00 shard/s, elapsed 0.0 s, ETA ?\n"
            "load:  50.0% 2/4 shard, 2.00 shard/s, elapsed 1.0 s, ETA 1.0 s\n");
}

TEST_F(ProgressOutput, FinishWithoutUpdatesPrintsOneLine) {
  Progress progress("idle", 3, "it", options(0));
  now_ += 0.5;
  progress.finish();
  EXPECT_EQ(output(), "idle:   0.0% 0/3 it, 0.00 it/s, elapsed 0.5 s, ETA ?\n");
}

TEST_F(ProgressOutput, TerminalRedrawsInPlace) {
  {
    Progress progress("load", 3, "file", options(1));
    progress.advance();
    now_ += 0.0625;  // within tty_interval_s: no redraw
    progress.advance();
    now_ += 0.9375;
    progress.advance();
    progress.finish();
  }
  const std::string first = "load:  33.3% 1/3 file, 0.00 file/s, elapsed 0.0 s, ETA ?";
  const std::string last = "load: 100.0% 3/3 file, 3.00 file/s, elapsed 1.0 s";
  // A shorter line is padded with spaces to cover the previous one.
  const std::string pad(first.size() - last.size(), ' ');
  EXPECT_EQ(output(), "\r" + first + "\r" + last + pad + "\r" + last + "\n");
}

TEST_F(ProgressOutput, TerminalOutputEndsWithOneNewline) {
  {
    Progress progress("q", 0, "it", options(1));
    for (int i = 0; i < 5; ++i) {
      progress.advance();
      now_ += 1.0;
    }
  }
  const std::string text = output();
  ASSERT_FALSE(text.empty());
  EXPECT_EQ(text.front(), '\r');
  EXPECT_EQ(text.back(), '\n');
  EXPECT_EQ(std::count(text.begin(), text.end(), '\n'), 1);
  EXPECT_EQ(std::count(text.begin(), text.end(), '\r'), 6);  // 5 updates + the final redraw
}

TEST_F(ProgressOutput, DetectsThatAFileIsNotATerminal) {
  {
    Progress progress("auto", 2, "it", options(-1));
    progress.advance(2);
  }
  const std::string text = output();
  EXPECT_EQ(text.find('\r'), std::string::npos);
  EXPECT_EQ(split_lines(text).size(), 2u);
}

TEST_F(ProgressOutput, EnvironmentCanTurnTheDisplayOff) {
  ::setenv("SLIM_PROGRESS", "0", 1);
  for (int tty : {0, 1}) {
    Progress progress("quiet", 10, "it", options(tty));
    progress.advance(3);
    now_ += 60;
    progress.advance(7);
    progress.finish();
    EXPECT_EQ(progress.position(), 10);
  }
  EXPECT_EQ(output(), "");
  // Any other value keeps it on.
  ::setenv("SLIM_PROGRESS", "1", 1);
  { Progress progress("loud", 1, "it", options(0)); }
  EXPECT_EQ(output(), "loud:   0.0% 0/1 it, 0.00 it/s, elapsed 0.0 s, ETA ?\n");
}

// ------------------------------------------------------------------------------- logging

TEST(Logging, ParseLevelAcceptsEveryNameInAnyCase) {
  using slim::logging::parse_level;
  EXPECT_EQ(parse_level("trace"), spdlog::level::trace);
  EXPECT_EQ(parse_level("TRACE"), spdlog::level::trace);
  EXPECT_EQ(parse_level("debug"), spdlog::level::debug);
  EXPECT_EQ(parse_level("Debug"), spdlog::level::debug);
  EXPECT_EQ(parse_level("info"), spdlog::level::info);
  EXPECT_EQ(parse_level("INFO"), spdlog::level::info);
  EXPECT_EQ(parse_level("warn"), spdlog::level::warn);
  EXPECT_EQ(parse_level("warning"), spdlog::level::warn);
  EXPECT_EQ(parse_level("WaRnInG"), spdlog::level::warn);
  EXPECT_EQ(parse_level("error"), spdlog::level::err);
  EXPECT_EQ(parse_level("ERROR"), spdlog::level::err);
  EXPECT_EQ(parse_level("critical"), spdlog::level::critical);
  EXPECT_EQ(parse_level("Critical"), spdlog::level::critical);
  EXPECT_EQ(parse_level("off"), spdlog::level::off);
  EXPECT_EQ(parse_level("OFF"), spdlog::level::off);
}

TEST(Logging, ParseLevelRejectsUnknownNamesListingTheValidOnes) {
  using slim::logging::parse_level;
  for (const std::string name : {"verbose", "", "info ", "warnings", "err", "3"}) {
    SCOPED_TRACE(name);
    EXPECT_ERROR_WITH(parse_level(name), "unknown log level", "'" + name + "'",
                      "trace, debug, info, warn, error, critical, off");
  }
}

TEST(Logging, InitRejectsABadEnvironmentLevel) {
  const char* saved = std::getenv("SLIM_LOG_LEVEL");
  const std::optional<std::string> previous =
      saved ? std::optional<std::string>(saved) : std::nullopt;
  ::setenv("SLIM_LOG_LEVEL", "loud", 1);
  EXPECT_ERROR_WITH(slim::logging::init(), "SLIM_LOG_LEVEL", "'loud'", "trace, debug");
  if (previous) {
    ::setenv("SLIM_LOG_LEVEL", previous->c_str(), 1);
  } else {
    ::unsetenv("SLIM_LOG_LEVEL");
  }
}

}  // namespace

TEST(ProgressFormat, DurationUnitIsChosenAfterRounding) {
  EXPECT_EQ(slim::format_duration(59.96), "1 min 00 s");
  EXPECT_EQ(slim::format_duration(3599.6), "1 h 00 min");
  EXPECT_EQ(slim::format_duration(59.94), "59.9 s");
}
