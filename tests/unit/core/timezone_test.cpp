#include <gtest/gtest.h>

#include "core/timezone.h"

namespace codefleet {
namespace {

TimePoint at(const char* s) { return *parse_rfc3339(s); }

TEST(TimeZone, AmsterdamWinterAndSummer) {
  auto tz = TimeZone::named("Europe/Amsterdam");
  ASSERT_TRUE(tz);
  LocalTime winter = tz->local(at("2026-01-05T09:00:00Z"));  // Monday
  EXPECT_EQ(winter.utc_offset_s, 3600);
  EXPECT_EQ(winter.weekday, 0);
  EXPECT_EQ(winter.minute_of_day, 10 * 60);
  LocalTime summer = tz->local(at("2026-07-01T08:00:00Z"));  // Wednesday
  EXPECT_EQ(summer.utc_offset_s, 7200);
  EXPECT_EQ(summer.weekday, 2);
  EXPECT_EQ(summer.minute_of_day, 10 * 60);
}

TEST(TimeZone, TransitionsAtTheRightInstant) {
  auto tz = *TimeZone::named("Europe/Amsterdam");
  // 2026: DST starts Sunday 29 March 01:00 UTC, ends Sunday 25 October 01:00 UTC.
  EXPECT_EQ(tz.utc_offset_s(at("2026-03-29T00:59:59Z")), 3600);
  EXPECT_EQ(tz.utc_offset_s(at("2026-03-29T01:00:00Z")), 7200);
  EXPECT_EQ(tz.utc_offset_s(at("2026-10-25T00:59:59Z")), 7200);
  EXPECT_EQ(tz.utc_offset_s(at("2026-10-25T01:00:00Z")), 3600);
}

TEST(TimeZone, SouthernHemisphereAndFixedZones) {
  auto syd = *TimeZone::named("Australia/Sydney");
  EXPECT_EQ(syd.utc_offset_s(at("2026-01-15T00:00:00Z")), 11 * 3600);
  EXPECT_EQ(syd.utc_offset_s(at("2026-07-15T00:00:00Z")), 10 * 3600);
  auto ny = *TimeZone::named("America/New_York");
  EXPECT_EQ(ny.utc_offset_s(at("2026-01-15T12:00:00Z")), -5 * 3600);
  EXPECT_EQ(ny.utc_offset_s(at("2026-07-15T12:00:00Z")), -4 * 3600);
  auto kolkata = *TimeZone::named("Asia/Kolkata");
  EXPECT_EQ(kolkata.utc_offset_s(at("2026-07-15T12:00:00Z")), 5 * 3600 + 1800);
  EXPECT_EQ(TimeZone::utc().local(at("2026-01-04T23:30:00Z")).weekday, 6);  // Sunday
}

TEST(TimeZone, RejectsBadRules) {
  for (const char* bad :
       {"", "C", "CET", "CET-1CEST,J60,J300", "CET-1CEST,M13.5.0,M10.5.0", "CET-1CEST,M3.5.0"}) {
    EXPECT_FALSE(TimeZone::from_posix(bad)) << bad;
  }
  EXPECT_FALSE(TimeZone::named("Mars/Olympus_Mons"));
}

TEST(TimeZone, ReadsTheTzifFooter) {
  std::string fake = "TZif2" + std::string(60, '\0') + "\nCET-1CEST,M3.5.0,M10.5.0/3\n";
  auto tz = TimeZone::from_tzif(fake, "Europe/Test");
  ASSERT_TRUE(tz) << tz.error().message;
  EXPECT_EQ(tz->utc_offset_s(at("2026-07-01T00:00:00Z")), 7200);
  EXPECT_FALSE(TimeZone::from_tzif("not a tzif file at all, clearly not one", "x"));
}

}  // namespace
}  // namespace codefleet
