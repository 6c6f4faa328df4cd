#include "core/time.h"

#include <cctype>
#include <cstdint>
#include <optional>
#include <utility>

#include <fmt/format.h>

namespace codefleet {

using namespace std::chrono;

Result<Duration> parse_duration(std::string_view text) {
  auto bad = [&](const std::string& why) {
    return make_error(
        ErrorCode::kInvalidInput,
        fmt::format("'{}' is not a duration ({}; expected e.g. 30m, 1h30m, 90s, 2d)", text, why));
  };
  if (text == "0") return Duration{0};
  if (text.empty()) return bad("empty");
  int64_t total_ms = 0;
  size_t i = 0;
  while (i < text.size()) {
    if (!std::isdigit(static_cast<unsigned char>(text[i]))) return bad("a number must come first");
    int64_t n = 0;
    while (i < text.size() && std::isdigit(static_cast<unsigned char>(text[i]))) {
      n = n * 10 + (text[i] - '0');
      if (n > 1'000'000'000) return bad("too large");
      ++i;
    }
    size_t unit_start = i;
    while (i < text.size() && std::isalpha(static_cast<unsigned char>(text[i]))) ++i;
    std::string_view unit = text.substr(unit_start, i - unit_start);
    int64_t ms_per_unit;
    if (unit == "ms")
      ms_per_unit = 1;
    else if (unit == "s")
      ms_per_unit = 1000;
    else if (unit == "m")
      ms_per_unit = 60'000;
    else if (unit == "h")
      ms_per_unit = 3'600'000;
    else if (unit == "d")
      ms_per_unit = 86'400'000;
    else if (unit.empty())
      return bad("missing unit");
    else
      return bad(fmt::format("unknown unit '{}'", unit));
    total_ms += n * ms_per_unit;
  }
  return Duration{total_ms};
}

std::string format_duration(Duration d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const std::pair<int64_t, const char*> units[] = {
      {86'400'000, "d"}, {3'600'000, "h"}, {60'000, "m"}, {1000, "s"}, {1, "ms"}};
  for (auto [size, name] : units) {
    if (ms >= size) {
      out += fmt::format("{}{}", ms / size, name);
      ms %= size;
    }
  }
  return out;
}

namespace {
bool digits(std::string_view s, size_t pos, size_t n, int& out) {
  if (pos + n > s.size()) return false;
  out = 0;
  for (size_t i = pos; i < pos + n; ++i) {
    if (!std::isdigit(static_cast<unsigned char>(s[i]))) return false;
    out = out * 10 + (s[i] - '0');
  }
  return true;
}

// The offset after the seconds ("Z", "+01:00", "-05:30"), in minutes east of UTC, and the
// position after it; nullopt when it is malformed or out of range (hours 00-23, minutes
// 00-59: "+99:99" is no offset, not 4 days).
std::optional<std::pair<int, size_t>> parse_offset(std::string_view s, size_t pos) {
  if (pos < s.size() && (s[pos] == 'Z' || s[pos] == 'z')) return std::pair{0, pos + 1};
  if (pos >= s.size() || (s[pos] != '+' && s[pos] != '-')) return std::nullopt;
  int oh, om;
  if (!digits(s, pos + 1, 2, oh) || pos + 3 >= s.size() || s[pos + 3] != ':' ||
      !digits(s, pos + 4, 2, om) || oh > 23 || om > 59) {
    return std::nullopt;
  }
  return std::pair{(oh * 60 + om) * (s[pos] == '-' ? -1 : 1), pos + 6};
}

// A leap second (second 60) is accepted only at 23:59 UTC on 30 June or 31 December, the
// only times one has ever been inserted; see parse_rfc3339 in time.h for how it is read.
bool leap_second_allowed(sys_days local_day, int h, int mi, int offset_min) {
  auto utc = local_day + hours{h} + minutes{mi} - minutes{offset_min};
  auto utc_day = floor<days>(utc);
  year_month_day ymd{utc_day};
  hh_mm_ss hms{utc - utc_day};
  bool june = ymd.month() == June && ymd.day() == std::chrono::day{30};
  bool december = ymd.month() == December && ymd.day() == std::chrono::day{31};
  return (june || december) && hms.hours() == hours{23} && hms.minutes() == minutes{59};
}

}  // namespace

Result<TimePoint> parse_rfc3339(std::string_view s) {
  auto bad = [&](std::string_view why) {
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("'{}' is not an RFC 3339 time ({}; expected e.g. "
                                  "2026-01-05T10:00:00Z)",
                                  s.substr(0, 64), why));
  };
  int y, mo, d, h, mi, sec;
  if (!digits(s, 0, 4, y) || s.size() < 20 || s[4] != '-' || !digits(s, 5, 2, mo) || s[7] != '-' ||
      !digits(s, 8, 2, d) || (s[10] != 'T' && s[10] != 't' && s[10] != ' ') ||
      !digits(s, 11, 2, h) || s[13] != ':' || !digits(s, 14, 2, mi) || s[16] != ':' ||
      !digits(s, 17, 2, sec)) {
    return bad("malformed");
  }
  year_month_day ymd{year{y}, month{static_cast<unsigned>(mo)}, day{static_cast<unsigned>(d)}};
  if (mo < 1 || mo > 12) return bad("month out of range 01-12");
  if (!ymd.ok()) return bad("no such day in that month");
  if (h > 23) return bad("hour out of range 00-23");
  if (mi > 59) return bad("minute out of range 00-59");
  if (sec > 60) return bad("second out of range 00-60");
  size_t pos = 19;
  int64_t ms = 0;
  if (pos < s.size() && s[pos] == '.') {
    ++pos;
    int scale = 100, n = 0;
    while (pos < s.size() && std::isdigit(static_cast<unsigned char>(s[pos]))) {
      ms += (s[pos] - '0') * scale;
      scale /= 10;
      ++pos;
      ++n;
    }
    if (n == 0) return bad("no digits after the decimal point");
  }
  auto offset = parse_offset(s, pos);
  if (!offset) return bad("the offset must be Z or +hh:mm / -hh:mm with hh 00-23 and mm 00-59");
  if (offset->second != s.size()) return bad("text after the offset");
  int offset_min = offset->first;
  if (sec == 60) {
    if (!leap_second_allowed(sys_days{ymd}, h, mi, offset_min)) {
      return bad("second 60 (a leap second) only at 23:59:60 UTC on 30 June or 31 December");
    }
    sec = 59, ms = 999;  // the leap second's instant as POSIX time has it: the day's last ms
  }
  auto t = sys_days{ymd} + hours{h} + minutes{mi} + seconds{sec} + milliseconds{ms} -
           minutes{offset_min};
  return TimePoint{duration_cast<milliseconds>(t.time_since_epoch())};
}

std::string format_rfc3339(TimePoint t) {
  auto day_point = floor<days>(t);
  year_month_day ymd{day_point};
  hh_mm_ss<milliseconds> tod{t - day_point};
  std::string out =
      fmt::format("{:04}-{:02}-{:02}T{:02}:{:02}:{:02}", static_cast<int>(ymd.year()),
                  static_cast<unsigned>(ymd.month()), static_cast<unsigned>(ymd.day()),
                  tod.hours().count(), tod.minutes().count(), tod.seconds().count());
  if (tod.subseconds().count() != 0) out += fmt::format(".{:03}", tod.subseconds().count());
  return out + "Z";
}

TimePoint SystemClock::now() const { return time_point_cast<milliseconds>(system_clock::now()); }

}  // namespace codefleet
