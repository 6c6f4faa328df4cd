#include "core/timezone.h"

#include <cctype>
#include <utility>

#include <fmt/format.h>

namespace codefleet {

using namespace std::chrono;

namespace {

// IANA names → the POSIX rule in their TZif footer (tzdata 2025b).
constexpr std::pair<const char*, const char*> kBuiltIn[] = {
    {"UTC", "UTC0"},
    {"Etc/UTC", "UTC0"},
    {"GMT", "GMT0"},
    {"Europe/Amsterdam", "CET-1CEST,M3.5.0,M10.5.0/3"},
    {"Europe/Berlin", "CET-1CEST,M3.5.0,M10.5.0/3"},
    {"Europe/Brussels", "CET-1CEST,M3.5.0,M10.5.0/3"},
    {"Europe/Paris", "CET-1CEST,M3.5.0,M10.5.0/3"},
    {"Europe/Madrid", "CET-1CEST,M3.5.0,M10.5.0/3"},
    {"Europe/Rome", "CET-1CEST,M3.5.0,M10.5.0/3"},
    {"Europe/Stockholm", "CET-1CEST,M3.5.0,M10.5.0/3"},
    {"Europe/Zurich", "CET-1CEST,M3.5.0,M10.5.0/3"},
    {"Europe/Warsaw", "CET-1CEST,M3.5.0,M10.5.0/3"},
    {"Europe/Dublin", "IST-1GMT0,M10.5.0,M3.5.0/1"},
    {"Europe/London", "GMT0BST,M3.5.0/1,M10.5.0"},
    {"Europe/Lisbon", "WET0WEST,M3.5.0/1,M10.5.0"},
    {"Europe/Helsinki", "EET-2EEST,M3.5.0/3,M10.5.0/4"},
    {"America/New_York", "EST5EDT,M3.2.0,M11.1.0"},
    {"America/Chicago", "CST6CDT,M3.2.0,M11.1.0"},
    {"America/Denver", "MST7MDT,M3.2.0,M11.1.0"},
    {"America/Los_Angeles", "PST8PDT,M3.2.0,M11.1.0"},
    {"America/Phoenix", "MST7"},
    {"Asia/Tokyo", "JST-9"},
    {"Asia/Singapore", "<+08>-8"},
    {"Asia/Kolkata", "IST-5:30"},
    {"Australia/Sydney", "AEST-10AEDT,M10.1.0,M4.1.0/3"},
};

class Parser {
 public:
  explicit Parser(std::string_view s) : s_(s) {}
  bool done() const { return i_ >= s_.size(); }
  char peek() const { return done() ? '\0' : s_[i_]; }
  bool eat(char c) {
    if (peek() != c) return false;
    ++i_;
    return true;
  }
  bool name() {
    if (eat('<')) {
      while (!done() && peek() != '>') ++i_;
      return eat('>');
    }
    size_t start = i_;
    while (!done() && std::isalpha(static_cast<unsigned char>(peek()))) ++i_;
    return i_ - start >= 3;
  }
  std::optional<int> number() {
    if (!std::isdigit(static_cast<unsigned char>(peek()))) return std::nullopt;
    int v = 0;
    while (std::isdigit(static_cast<unsigned char>(peek()))) v = v * 10 + (s_[i_++] - '0');
    return v;
  }
  // [+-]hh[:mm[:ss]] → seconds
  std::optional<int64_t> offset() {
    int sign = 1;
    if (eat('-'))
      sign = -1;
    else
      eat('+');
    auto h = number();
    if (!h) return std::nullopt;
    int64_t secs = *h * 3600;
    if (eat(':')) {
      auto m = number();
      if (!m) return std::nullopt;
      secs += *m * 60;
      if (eat(':')) {
        auto sec = number();
        if (!sec) return std::nullopt;
        secs += *sec;
      }
    }
    return sign * secs;
  }

 private:
  std::string_view s_;
  size_t i_ = 0;
};

// Seconds since the epoch of the local instant `rule` names in `year`.
int64_t rule_local_seconds(int year, int month, int week, int weekday, int64_t time_s) {
  sys_days first = sys_days{year_month_day{
      std::chrono::year{year}, std::chrono::month{static_cast<unsigned>(month)}, day{1}}};
  int first_wd =
      static_cast<int>(weekday_indexed{std::chrono::weekday{first}, 1}.weekday().c_encoding());
  int d = 1 + ((weekday - first_wd + 7) % 7) + (week - 1) * 7;
  auto last = year_month_day_last{std::chrono::year{year},
                                  month_day_last{std::chrono::month{static_cast<unsigned>(month)}}};
  int last_day = static_cast<int>(static_cast<unsigned>(last.day()));
  while (d > last_day) d -= 7;
  sys_days date = first + days{d - 1};
  return duration_cast<seconds>(date.time_since_epoch()).count() + time_s;
}

}  // namespace

TimeZone TimeZone::utc() {
  TimeZone tz;
  tz.name_ = "UTC";
  return tz;
}

Result<TimeZone> TimeZone::from_posix(std::string_view rule, std::string name) {
  auto bad = [&](const char* why) {
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("'{}' is not a POSIX TZ rule ({})", rule, why));
  };
  TimeZone tz;
  tz.name_ = name.empty() ? std::string(rule) : std::move(name);
  Parser p(rule);
  if (!p.name()) return bad("expected a zone abbreviation");
  auto std_off = p.offset();
  if (!std_off) return bad("expected a UTC offset");
  tz.std_offset_s_ = -*std_off;  // POSIX offsets are west-positive
  if (p.done()) return tz;
  if (!p.name()) return bad("expected a daylight-saving abbreviation");
  int64_t dst = tz.std_offset_s_ + 3600;
  if (p.peek() != ',' && !p.done()) {
    auto o = p.offset();
    if (!o) return bad("bad daylight-saving offset");
    dst = -*o;
  }
  tz.dst_offset_s_ = dst;
  for (Rule* r : {&tz.dst_start_, &tz.dst_end_}) {
    if (!p.eat(',') || !p.eat('M')) return bad("only Mm.w.d transition rules are supported");
    auto m = p.number();
    if (!m || !p.eat('.')) return bad("bad month");
    auto w = p.number();
    if (!w || !p.eat('.')) return bad("bad week");
    auto d = p.number();
    if (!d) return bad("bad weekday");
    if (*m < 1 || *m > 12 || *w < 1 || *w > 5 || *d > 6) return bad("transition out of range");
    r->month = *m;
    r->week = *w;
    r->weekday = *d;
    r->time_s = 7200;
    if (p.eat('/')) {
      auto t = p.offset();
      if (!t) return bad("bad transition time");
      r->time_s = *t;
    }
  }
  if (!p.done()) return bad("trailing characters");
  return tz;
}

Result<TimeZone> TimeZone::named(std::string_view iana_name) {
  for (const auto& [n, rule] : kBuiltIn) {
    if (iana_name == n) return from_posix(rule, n);
  }
  return make_error(ErrorCode::kNotFound, fmt::format("time zone '{}' is not built in", iana_name));
}

Result<TimeZone> TimeZone::from_tzif(std::string_view bytes, std::string name) {
  if (bytes.size() < 44 || bytes.substr(0, 4) != "TZif") {
    return make_error(ErrorCode::kInvalidInput, "not a TZif file", name);
  }
  if (bytes.back() != '\n')
    return make_error(ErrorCode::kInvalidInput, "TZif file has no POSIX footer", name);
  size_t start = bytes.rfind('\n', bytes.size() - 2);
  if (start == std::string_view::npos)
    return make_error(ErrorCode::kInvalidInput, "TZif footer not found", name);
  std::string_view rule = bytes.substr(start + 1, bytes.size() - start - 2);
  if (rule.empty())
    return make_error(ErrorCode::kInvalidInput, "TZif footer is empty (a v1 file?)", name);
  return from_posix(rule, std::move(name));
}

int64_t TimeZone::utc_offset_s(TimePoint t) const {
  if (!dst_offset_s_) return std_offset_s_;
  int64_t utc_s = duration_cast<seconds>(t.time_since_epoch()).count();
  int year = static_cast<int>(year_month_day{floor<days>(t)}.year());
  // Transition instants in UTC: DST starts at local standard time, ends at local DST time.
  int64_t start = rule_local_seconds(year, dst_start_.month, dst_start_.week, dst_start_.weekday,
                                     dst_start_.time_s) -
                  std_offset_s_;
  int64_t end =
      rule_local_seconds(year, dst_end_.month, dst_end_.week, dst_end_.weekday, dst_end_.time_s) -
      *dst_offset_s_;
  bool in_dst = start < end ? (utc_s >= start && utc_s < end) : (utc_s >= start || utc_s < end);
  return in_dst ? *dst_offset_s_ : std_offset_s_;
}

LocalTime TimeZone::local(TimePoint t) const {
  int64_t off = utc_offset_s(t);
  auto local = t + seconds{off};
  auto day_point = floor<days>(local);
  LocalTime lt;
  lt.utc_offset_s = off;
  lt.weekday = static_cast<int>(std::chrono::weekday{day_point}.iso_encoding()) - 1;
  lt.minute_of_day = static_cast<int>(duration_cast<minutes>(local - day_point).count());
  return lt;
}

}  // namespace codefleet
