#include "slim/core/progress.h"

#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <cstring>

#include "slim/core/error.h"

namespace slim {

namespace {

double steady_seconds() {
  using clock = std::chrono::steady_clock;
  return std::chrono::duration<double>(clock::now().time_since_epoch()).count();
}

std::string format_rate(double per_second, const std::string& unit) {
  char buffer[64];
  if (per_second >= 1e6) {
    std::snprintf(buffer, sizeof buffer, "%.2fM %s/s", per_second / 1e6, unit.c_str());
  } else if (per_second >= 1e3) {
    std::snprintf(buffer, sizeof buffer, "%.2fk %s/s", per_second / 1e3, unit.c_str());
  } else if (per_second >= 1.0 || per_second == 0.0) {
    std::snprintf(buffer, sizeof buffer, "%.2f %s/s", per_second, unit.c_str());
  } else {
    std::snprintf(buffer, sizeof buffer, "%.2f s/%s", 1.0 / per_second, unit.c_str());
  }
  return buffer;
}

}  // namespace

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  char buffer[64];
  // Decide the unit after rounding, so 59.96 s prints "1 min 00 s", not "60.0 s".
  if (std::round(seconds * 10) / 10 < 60) {
    std::snprintf(buffer, sizeof buffer, "%.1f s", seconds);
  } else if (std::lround(seconds) < 3600) {
    const long total = std::lround(seconds);
    std::snprintf(buffer, sizeof buffer, "%ld min %02ld s", total / 60, total % 60);
  } else {
    const long minutes = std::lround(seconds / 60);
    std::snprintf(buffer, sizeof buffer, "%ld h %02ld min", minutes / 60, minutes % 60);
  }
  return buffer;
}

std::string Progress::format_line(const std::string& label, int64_t position, int64_t total,
                                  const std::string& unit, double elapsed_s) {
  std::string line = label + ": ";
  if (total > 0) {
    char percent[32];
    std::snprintf(percent, sizeof percent, "%5.1f%% ", 100.0 * position / total);
    line += percent + std::to_string(position) + "/" + std::to_string(total) + " " + unit;
  } else {
    line += std::to_string(position) + " " + unit;
  }
  const double rate = elapsed_s > 0 ? position / elapsed_s : 0.0;
  line += ", " + format_rate(rate, unit) + ", elapsed " + format_duration(elapsed_s);
  if (total > 0 && position < total) {
    line += ", ETA " + (rate > 0 ? format_duration((total - position) / rate) : std::string("?"));
  }
  return line;
}

Progress::Progress(std::string label, int64_t total, std::string unit, ProgressOptions options)
    : label_(std::move(label)),
      total_(total),
      unit_(std::move(unit)),
      options_(std::move(options)) {
  if (!options_.clock) options_.clock = steady_seconds;
  tty_ = options_.tty >= 0 ? options_.tty == 1 : isatty(fileno(options_.stream)) == 1;
  const char* env = std::getenv("SLIM_PROGRESS");
  enabled_ = !(env != nullptr && std::strcmp(env, "0") == 0);
  start_s_ = now();
}

Progress::~Progress() {
  try {
    finish();
  } catch (...) {
    // A destructor must not throw; a failed final progress line is not worth an abort.
  }
}

double Progress::now() const {
  return options_.clock();
}

void Progress::advance(int64_t count) {
  set_position(position_ + count);
}

void Progress::set_position(int64_t position) {
  position_ = position;
  maybe_draw(false);
}

void Progress::set_detail(std::string detail) {
  detail_ = std::move(detail);
  maybe_draw(false);
}

void Progress::finish() {
  if (finished_) return;
  maybe_draw(true);
  if (enabled_ && tty_) std::fputc('\n', options_.stream);
  std::fflush(options_.stream);
  finished_ = true;
}

void Progress::maybe_draw(bool force) {
  if (!enabled_ || finished_) return;
  const double t = now();
  const double interval = tty_ ? options_.tty_interval_s : options_.plain_interval_s;
  if (!force && t - last_draw_s_ < interval) return;
  last_draw_s_ = t;
  std::string line = format_line(label_, position_, total_, unit_, t - start_s_);
  if (!detail_.empty() && position_ < total_) line += "; " + detail_;
  if (tty_) {
    // Pad with spaces so a shorter line fully covers the previous one.
    const size_t pad = last_width_ > line.size() ? last_width_ - line.size() : 0;
    std::fprintf(options_.stream, "\r%s%*s", line.c_str(), static_cast<int>(pad), "");
    last_width_ = line.size();
  } else {
    std::fprintf(options_.stream, "%s\n", line.c_str());
  }
  std::fflush(options_.stream);
}

}  // namespace slim
