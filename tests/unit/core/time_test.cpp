#include <gtest/gtest.h>

#include "core/time.h"

namespace codefleet {
namespace {

using namespace std::chrono_literals;

TEST(Duration, ParsesUnits) {
  struct Case {
    const char* text;
    Duration want;
  };
  for (auto c : {Case{"30m", 30min}, Case{"1h30m", 90min}, Case{"90s", 90s}, Case{"2d", 48h},
                 Case{"500ms", 500ms}, Case{"0", 0ms}}) {
    auto d = parse_duration(c.text);
    ASSERT_TRUE(d) << c.text;
    EXPECT_EQ(*d, c.want) << c.text;
  }
}

TEST(Duration, RejectsBadText) {
  for (const char* bad : {"", "30", "m30", "1x", "1h30", "-5m", "99999999999d"}) {
    EXPECT_FALSE(parse_duration(bad)) << bad;
  }
}

TEST(Duration, FormatsShortest) {
  EXPECT_EQ(format_duration(90min), "1h30m");
  EXPECT_EQ(format_duration(0ms), "0s");
  EXPECT_EQ(format_duration(45s), "45s");
  EXPECT_EQ(format_duration(26h), "1d2h");
}

TEST(Rfc3339, RoundTrips) {
  auto t = parse_rfc3339("2026-01-05T10:00:00Z");
  ASSERT_TRUE(t);
  EXPECT_EQ(format_rfc3339(*t), "2026-01-05T10:00:00Z");
  auto offset = parse_rfc3339("2026-01-05T11:00:00.250+01:00");
  ASSERT_TRUE(offset);
  EXPECT_EQ(format_rfc3339(*offset), "2026-01-05T10:00:00.250Z");
}

TEST(Rfc3339, RejectsBadText) {
  for (const char* bad :
       {"2026-01-05", "2026-13-01T00:00:00Z", "2026-02-30T00:00:00Z", "2026-01-05T10:00:00",
        "2026-01-05T25:00:00Z", "garbage", "2026-01-05T10:00:00Zjunk"}) {
    EXPECT_FALSE(parse_rfc3339(bad)) << bad;
  }
}

TEST(Rfc3339, ChecksEveryField) {
  struct Case {
    const char* text;
    const char* want;  // nullptr: refused
  };
  const Case cases[] = {
      // Offsets: hours 00-23, minutes 00-59; "+99:99" is not 4 days and 3 hours.
      {"2026-01-05T10:00:00+99:99", nullptr},
      {"2026-01-05T10:00:00+24:00", nullptr},
      {"2026-01-05T10:00:00-00:60", nullptr},
      {"2026-01-05T10:00:00+1:00", nullptr},
      {"2026-01-05T10:00:00+01:0", nullptr},
      {"2026-01-05T10:00:00+0100", nullptr},
      {"2026-01-05T10:00:00+23:59", "2026-01-04T10:01:00Z"},
      {"2026-01-05T10:00:00-23:59", "2026-01-06T09:59:00Z"},
      {"2026-01-05T10:00:00-00:00", "2026-01-05T10:00:00Z"},
      // Month and day per month, leap years included.
      {"2026-00-10T00:00:00Z", nullptr},
      {"2026-13-10T00:00:00Z", nullptr},
      {"2026-01-00T00:00:00Z", nullptr},
      {"2026-01-32T00:00:00Z", nullptr},
      {"2026-04-31T00:00:00Z", nullptr},
      {"2026-02-29T00:00:00Z", nullptr},
      {"2100-02-29T00:00:00Z", nullptr},
      {"2024-02-29T00:00:00Z", "2024-02-29T00:00:00Z"},
      {"2000-02-29T00:00:00Z", "2000-02-29T00:00:00Z"},
      {"2026-12-31T23:59:59.999Z", "2026-12-31T23:59:59.999Z"},
      // Hour, minute, second.
      {"2026-01-05T24:00:00Z", nullptr},
      {"2026-01-05T23:60:00Z", nullptr},
      {"2026-01-05T23:59:61Z", nullptr},
      {"2026-01-05T23:59:99Z", nullptr},
      {"2026-01-05T10:00:00.Z", nullptr},
      {"2026-01-05t10:00:00z", "2026-01-05T10:00:00Z"},
      // A leap second only at 23:59:60 UTC on 30 June or 31 December, read as the day's
      // last millisecond.
      {"2016-12-31T23:59:60Z", "2016-12-31T23:59:59.999Z"},
      {"2015-06-30T23:59:60.500Z", "2015-06-30T23:59:59.999Z"},
      {"2016-12-31T15:59:60-08:00", "2016-12-31T23:59:59.999Z"},
      {"2017-01-01T00:59:60+01:00", "2016-12-31T23:59:59.999Z"},
      {"2026-01-05T10:00:60Z", nullptr},
      {"2016-12-31T22:59:60Z", nullptr},
      {"2016-12-30T23:59:60Z", nullptr},
      {"2016-12-31T23:59:60+01:00", nullptr},
  };
  for (const auto& c : cases) {
    auto t = parse_rfc3339(c.text);
    if (!c.want) {
      EXPECT_FALSE(t) << c.text << " read as " << (t ? format_rfc3339(*t) : "");
      if (!t) {
        EXPECT_EQ(t.error().code, ErrorCode::kInvalidInput);
      }
      continue;
    }
    ASSERT_TRUE(t) << c.text << ": " << t.error().message;
    EXPECT_EQ(format_rfc3339(*t), c.want) << c.text;
  }
}

TEST(Rfc3339, AnErrorSaysWhichFieldAndQuotesAtMost64Characters) {
  auto offset = parse_rfc3339("2026-01-05T10:00:00+99:99");
  ASSERT_FALSE(offset);
  EXPECT_NE(offset.error().message.find("offset"), std::string::npos) << offset.error().message;
  auto month = parse_rfc3339("2026-13-01T00:00:00Z");
  ASSERT_FALSE(month);
  EXPECT_NE(month.error().message.find("month"), std::string::npos) << month.error().message;
  auto huge = parse_rfc3339("2026-01-05T10:00:00Z" + std::string(10'000, 'x'));
  ASSERT_FALSE(huge);
  EXPECT_LT(huge.error().message.size(), 300u);
}

TEST(SimulatedClock, AdvancesOnlyWhenTold) {
  SimulatedClock clock(*parse_rfc3339("2026-01-05T10:00:00Z"));
  const Clock& c = clock;
  EXPECT_EQ(format_rfc3339(c.now()), "2026-01-05T10:00:00Z");
  clock.advance(30min);
  EXPECT_EQ(format_rfc3339(c.now()), "2026-01-05T10:30:00Z");
}

TEST(Result, SeparatesInfeasibleFromUnavailable) {
  Error quota_full{ErrorCode::kUnavailable, "quota in use", ""};
  Error too_big{ErrorCode::kInfeasible, "no size is large enough", ""};
  EXPECT_TRUE(quota_full.retryable());
  EXPECT_FALSE(too_big.retryable());
  EXPECT_STREQ(error_code_name(too_big.code), "infeasible");
  Error located{ErrorCode::kInvalidInput, "bad", "spec.yaml:3:4"};
  EXPECT_EQ(located.describe(), "spec.yaml:3:4: bad");
}

}  // namespace
}  // namespace codefleet
