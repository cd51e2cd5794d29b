// Progress display for long loops: position, rate and ETA on stderr.
//
// On a terminal the line is redrawn in place (at most ~10 times a second); otherwise (CI logs,
// pipes) a plain line is printed every `plain_interval_s` seconds and at the end, so logs stay
// readable. SLIM_PROGRESS=0 turns the display off.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <functional>
#include <string>

namespace slim {

struct ProgressOptions {
  std::FILE* stream = stderr;
  int tty = -1;                    // -1: detect with isatty; 0/1 force.
  double plain_interval_s = 10.0;  // period of plain lines when not on a terminal
  double tty_interval_s = 0.1;     // minimum time between redraws on a terminal
  // Clock in seconds; injectable for tests. Defaults to a steady clock.
  std::function<double()> clock;
};

class Progress {
 public:
  // total <= 0 means unknown (no percentage, no ETA). `unit` names what is counted.
  Progress(std::string label, int64_t total, std::string unit = "it", ProgressOptions options = {});
  ~Progress();
  Progress(const Progress&) = delete;
  Progress& operator=(const Progress&) = delete;

  void advance(int64_t count = 1);
  void set_position(int64_t position);
  // What the current step is doing ("linear_quant: calibration forward, 128 samples"), shown
  // after the position until replaced; redrawn like a position change.
  void set_detail(std::string detail);
  // Prints the final line (once). Called by the destructor if not called before.
  void finish();

  int64_t position() const { return position_; }

  // The text of one status line, without line control characters.
  static std::string format_line(const std::string& label, int64_t position, int64_t total,
                                 const std::string& unit, double elapsed_s);

 private:
  void maybe_draw(bool force);
  double now() const;

  std::string label_;
  int64_t total_;
  std::string unit_;
  std::string detail_;
  ProgressOptions options_;
  bool tty_ = false;
  bool enabled_ = true;
  bool finished_ = false;
  int64_t position_ = 0;
  double start_s_ = 0;
  double last_draw_s_ = -1e300;
  size_t last_width_ = 0;
};

// "1.5 s", "2 min 05 s", "1 h 02 min".
std::string format_duration(double seconds);

}  // namespace slim
