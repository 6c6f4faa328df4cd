// Time zones as POSIX TZ rules ("CET-1CEST,M3.5.0,M10.5.0/3"), enough to turn a UTC
// instant into local wall-clock time for schedules and off-peak windows, now and in the
// future. The domain never reads /usr/share/zoneinfo: common IANA names are built in,
// and adapters may load others (the TZif file's footer is exactly such a rule).
//
//   auto tz = TimeZone::named("Europe/Amsterdam");       // built in
//   LocalTime lt = tz->local(*parse_rfc3339("2026-07-01T08:00:00Z"));
//   // lt.weekday == 2 (Wednesday, Monday = 0), lt.minute_of_day == 600 (10:00 CEST)
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/result.h"
#include "core/time.h"

namespace codefleet {

struct LocalTime {
  int weekday = 0;        // 0 = Monday … 6 = Sunday
  int minute_of_day = 0;  // 0 … 1439
  int64_t utc_offset_s = 0;
};

class TimeZone {
 public:
  static TimeZone utc();
  // Parses a POSIX TZ rule: "UTC0", "CET-1CEST,M3.5.0,M10.5.0/3", "EST5EDT,M3.2.0,M11.1.0".
  static Result<TimeZone> from_posix(std::string_view rule, std::string name = {});
  // A built-in IANA zone ("Europe/Amsterdam", "UTC", …); kNotFound for others.
  static Result<TimeZone> named(std::string_view iana_name);
  // The POSIX rule at the end of a TZif (v2+) file's contents.
  static Result<TimeZone> from_tzif(std::string_view bytes, std::string name);

  const std::string& name() const { return name_; }
  int64_t utc_offset_s(TimePoint t) const;
  LocalTime local(TimePoint t) const;

 private:
  struct Rule {  // Mm.w.d/time: month 1-12, week 1-5 (5 = last), weekday 0 = Sunday
    int month = 0, week = 0, weekday = 0;
    int64_t time_s = 7200;
  };
  std::string name_;
  int64_t std_offset_s_ = 0;  // east of UTC
  std::optional<int64_t> dst_offset_s_;
  Rule dst_start_, dst_end_;
};

}  // namespace codefleet
