#pragma once
// A progress bar for the examples' training loops, within an epoch: batches done, the running
// loss, examples per second and the time left. It draws on stderr, and only when stderr is a
// terminal: redirected to a file or a pipe it prints nothing, so logs hold only the epoch lines.
// `clear()` wipes it before such a line, which is then all that stays on the screen.
//
//     examples::ProgressBar bar(loader.num_batches());
//     for (auto& batch : loader) {
//       ...
//       bar.update(++done, loss_sum / seen, seen, "epoch 2/5");
//     }
//     bar.clear();
//     std::printf("epoch 2/5 loss=...\n");
//
// Header-only, no tapegrad dependency: the LSTM and ViT examples use it too.
#include <sys/ioctl.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdio>
#include <string>

namespace examples {

class ProgressBar {
 public:
  /// `total` batches per epoch. `enabled` defaults to whether stderr is a terminal.
  explicit ProgressBar(std::size_t total, bool enabled = ::isatty(STDERR_FILENO) != 0)
      : total_(total), enabled_(enabled) {
    restart();
  }

  bool enabled() const noexcept { return enabled_; }

  /// Starts timing a new epoch (the rate and the time left count from here).
  void restart() {
    start_ = Clock::now();
    last_draw_ = start_ - kRedraw;
  }

  /// `done` batches of `total` so far, the mean loss over them, and the examples they held.
  /// Redraws at most ten times a second, and at the last batch.
  void update(std::size_t done, double running_loss, std::size_t examples, const std::string& label) {
    if (!enabled_) return;
    const auto now = Clock::now();
    if (now - last_draw_ < kRedraw && done < total_) return;
    last_draw_ = now;
    const double elapsed = std::chrono::duration<double>(now - start_).count();
    const double rate = elapsed > 0 ? double(examples) / elapsed : 0;
    const double left = done > 0 ? elapsed * double(total_ - std::min(done, total_)) / double(done) : 0;
    const std::size_t width = 24, filled = total_ > 0 ? width * std::min(done, total_) / total_ : 0;
    std::string bar(filled, '=');
    if (filled < width) bar += '>' + std::string(width - filled - 1, ' ');
    char line[256];
    std::snprintf(line, sizeof line, "%s [%s] %zu/%zu loss=%.4f %.0f ex/s ETA %s", label.c_str(), bar.c_str(), done,
                  total_, running_loss, rate, duration(left).c_str());
    std::string text = line;
    if (const std::size_t cols = columns(); cols > 1 && text.size() >= cols) text.resize(cols - 1);
    std::fprintf(stderr, "\r%s\033[K", text.c_str());
    std::fflush(stderr);
  }

  /// Wipes the bar, leaving the cursor at the start of an empty line.
  void clear() {
    if (!enabled_) return;
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
  }

 private:
  using Clock = std::chrono::steady_clock;
  static constexpr Clock::duration kRedraw = std::chrono::milliseconds(100);

  static std::string duration(double seconds) {
    const long s = long(seconds + 0.5);
    char buf[32];
    if (s >= 3600) {
      std::snprintf(buf, sizeof buf, "%ldh%02ldm", s / 3600, s / 60 % 60);
    } else if (s >= 60) {
      std::snprintf(buf, sizeof buf, "%ldm%02lds", s / 60, s % 60);
    } else {
      std::snprintf(buf, sizeof buf, "%lds", s);
    }
    return buf;
  }

  // The terminal's width, or 0 when unknown.
  static std::size_t columns() {
    struct winsize w {};
    if (::ioctl(STDERR_FILENO, TIOCGWINSZ, &w) == 0) return w.ws_col;
    return 0;
  }

  std::size_t total_;
  bool enabled_;
  Clock::time_point start_, last_draw_;
};

}  // namespace examples
