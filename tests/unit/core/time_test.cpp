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
