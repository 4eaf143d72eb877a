// Clock: the only source of "now" (tests substitute a fixed clock).
#pragma once

#include <chrono>
#include <string>

#include "base/result.h"

namespace hallmark::base {

using TimePoint = std::chrono::sys_seconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint now() const override {
    return std::chrono::time_point_cast<std::chrono::seconds>(std::chrono::system_clock::now());
  }
};

class FixedClock final : public Clock {
 public:
  explicit FixedClock(TimePoint t) : m_now(t) {}
  TimePoint now() const override { return m_now; }
  void set(TimePoint t) { m_now = t; }

 private:
  TimePoint m_now;
};

// RFC 3339 UTC, e.g. "2026-12-03T19:01:20Z".
std::string format_rfc3339(TimePoint t);
// Accepts "YYYY-MM-DD" (midnight UTC) and "YYYY-MM-DDTHH:MM:SSZ".
Result<TimePoint> parse_date(const std::string& text);

}  // namespace hallmark::base
