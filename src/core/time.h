// Durations, time points and the injected clock.
//
// The domain never reads the wall clock: it takes a `Clock&`. Production code
// passes `SystemClock`; tests and the simulator pass `SimulatedClock` and move it.
//
//   SimulatedClock clock(*parse_rfc3339("2026-01-05T10:00:00Z"));
//   clock.advance(*parse_duration("30m"));
//   format_rfc3339(clock.now());   // "2026-01-05T10:30:00Z"
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/result.h"

namespace codefleet {

using Duration = std::chrono::milliseconds;
using TimePoint = std::chrono::sys_time<std::chrono::milliseconds>;

// "90s", "30m", "1h30m", "2d", "500ms", "0". A bare number is an error (the unit is required).
Result<Duration> parse_duration(std::string_view text);
// The shortest exact form: "1h30m", "45s", "0s".
std::string format_duration(Duration d);

// RFC 3339: "2026-01-05T10:00:00Z", "2026-01-05T11:00:00.250+01:00". Every field is
// checked: month 01-12, the day against its month (29 February in leap years only), hour
// 00-23, minute 00-59, second 00-59, and an offset of Z or ±hh:mm with hh 00-23 and mm
// 00-59. Second 60 (a leap second) is accepted only where one can be, at 23:59:60 UTC on
// 30 June or 31 December (in any offset), and is read as 23:59:59.999 UTC: time points
// here are POSIX time, which has no leap seconds, and this keeps it inside its day and
// before the next midnight. Fractions past milliseconds are dropped (truncated).
Result<TimePoint> parse_rfc3339(std::string_view text);
// Milliseconds and seconds since the Unix epoch (stores, tokens, wire formats), and back.
inline int64_t unix_ms(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::milliseconds>(t.time_since_epoch()).count();
}
inline int64_t unix_s(TimePoint t) {
  return std::chrono::duration_cast<std::chrono::seconds>(t.time_since_epoch()).count();
}
inline TimePoint from_unix_ms(int64_t ms) { return TimePoint(std::chrono::milliseconds(ms)); }
// Always UTC with a "Z"; milliseconds only when non-zero.
std::string format_rfc3339(TimePoint t);

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint now() const = 0;
};

class SimulatedClock final : public Clock {
 public:
  explicit SimulatedClock(TimePoint start = TimePoint{}) : now_(start) {}
  TimePoint now() const override { return now_; }
  void advance(Duration d) { now_ += d; }
  void set(TimePoint t) { now_ = t; }

 private:
  TimePoint now_;
};

// The wall clock. Only adapters (CLI, server) construct one.
class SystemClock final : public Clock {
 public:
  TimePoint now() const override;
};

}  // namespace codefleet
