#include <gtest/gtest.h>

#include "core/money.h"

namespace codefleet {
namespace {

struct ParseCase {
  const char* text;
  int64_t micros;
};

class MoneyParse : public testing::TestWithParam<ParseCase> {};

TEST_P(MoneyParse, ParsesExactly) {
  auto m = Money::parse(GetParam().text);
  ASSERT_TRUE(m) << GetParam().text << ": " << m.error().message;
  EXPECT_EQ(m->micros(), GetParam().micros);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, MoneyParse,
    testing::Values(ParseCase{"0", 0}, ParseCase{"6.98", 6'980'000}, ParseCase{"4.50", 4'500'000},
                    ParseCase{"$1,234.5", 1'234'500'000}, ParseCase{"-0.000001", -1},
                    ParseCase{"0.0000005", 1}, ParseCase{"0.0000004", 0},
                    ParseCase{" 12 ", 12'000'000}, ParseCase{"0.883562", 883'562},
                    // Past the micro-dollar: half away from zero.
                    ParseCase{"0.00000051", 1}, ParseCase{"0.00000049", 0},
                    ParseCase{"-0.00000051", -1}, ParseCase{"0.0000014999", 1},
                    ParseCase{"1,234,567.891", 1'234'567'891'000}, ParseCase{"-$5", -5'000'000},
                    ParseCase{"+$0.5", 500'000}));

TEST(Money, ParseExactRefusesWhatItWouldRound) {
  struct Case {
    const char* text;
    int64_t micros;  // -1: refused
  };
  for (auto c :
       {Case{"0.00000051", -1}, Case{"0.0000005", -1}, Case{"50.0000001", -1}, Case{"0.000001", 1},
        Case{"0.5000000", 500'000}, Case{"50.00", 50'000'000}, Case{"$1,000", 1'000'000'000}}) {
    auto m = Money::parse_exact(c.text);
    if (c.micros < 0) {
      ASSERT_FALSE(m) << c.text << " read as " << m->micros();
      EXPECT_EQ(m.error().code, ErrorCode::kInvalidInput);
      EXPECT_NE(m.error().message.find("more than 6 decimals"), std::string::npos)
          << m.error().message;
      continue;
    }
    ASSERT_TRUE(m) << c.text << ": " << m.error().message;
    EXPECT_EQ(m->micros(), c.micros) << c.text;
  }
}

TEST(Money, RefusesADollarSignOrCommaOutOfPlace) {
  for (const char* bad :
       {"1$", "1$.50", "1.$50", "1.5$", "$$1", "$-1", "-$-1", "1,5$", "4,50", "1,2345", ",123",
        "1,,234", "1234,567", "1,234.5,6", "1,234,56", "$ 5", "- 5"}) {
    EXPECT_FALSE(Money::parse(bad)) << bad;
    EXPECT_FALSE(Money::parse_exact(bad)) << bad;
  }
}

TEST(Money, RejectsGarbage) {
  for (const char* bad : {"", "abc", "1.2.3", "4,50x", "$", "--1", "1e5"}) {
    auto m = Money::parse(bad);
    EXPECT_FALSE(m) << bad;
    if (!m) {
      EXPECT_EQ(m.error().code, ErrorCode::kInvalidInput);
    }
  }
}

TEST(Money, RejectsOverflow) {
  EXPECT_FALSE(Money::parse("99999999999999999999"));
  // The whole part fits, whole + fraction does not: refused, not wrapped around.
  EXPECT_FALSE(Money::parse("9223372036854.9"));
  EXPECT_FALSE(Money::parse("-9223372036854.9"));
  auto largest = Money::parse("9223372036854.775807");
  ASSERT_TRUE(largest);
  EXPECT_EQ(largest->micros(), INT64_MAX);
}

TEST(Money, Formats) {
  EXPECT_EQ(Money::from_micros(6'980'000).to_string(), "6.98");
  EXPECT_EQ(Money::from_micros(6'980'000).to_string(4), "6.9800");
  EXPECT_EQ(Money::from_micros(12'000'000).to_string(), "12");
  EXPECT_EQ(Money::from_micros(5'095'400'000).to_string(2), "5095.40");
  EXPECT_EQ(Money::from_micros(-1'005'000).to_string(2), "-1.01");  // half away from zero
  EXPECT_EQ(Money::from_micros(1'005'000).to_string(2), "1.01");
  EXPECT_EQ(Money::from_micros(1'004'999).to_string(2), "1.00");
}

TEST(MoneyDeathTest, DividingByZeroAborts) {
  EXPECT_DEATH(Money::from_micros(5).mul_div(1, 0), "division by zero");
}

TEST(Money, MulDivRoundsHalfAwayFromZero) {
  // A one-year reservation total of 7740 USD is 0.883562 USD an hour (7740 / 8760).
  EXPECT_EQ(Money::from_usd(7740).mul_div(1, 8760).micros(), 883'562);
  EXPECT_EQ(Money::from_usd(11297).mul_div(1, 26280).micros(), 429'871);
  EXPECT_EQ(Money::from_micros(5).mul_div(1, 2).micros(), 3);
  EXPECT_EQ(Money::from_micros(-5).mul_div(1, 2).micros(), -3);
  // A negative denominator carries its sign; the rounding is still half away from zero.
  EXPECT_EQ(Money::from_micros(5).mul_div(1, -2).micros(), -3);
  EXPECT_EQ(Money::from_micros(-5).mul_div(1, -2).micros(), 3);
  EXPECT_EQ(Money::from_micros(7).mul_div(-1, -2).micros(), 4);
  EXPECT_EQ(div_round_half_away(5, -2), -3);
  EXPECT_EQ(div_round_half_away(-4, -3), 1);
  EXPECT_EQ(div_round_half_away(4, -3), -1);
  // 36 H100 nodes × $6.98 × 730 h, no intermediate overflow.
  EXPECT_EQ(Money::from_micros(6'980'000).mul_div(36 * 730, 1).to_string(2), "183434.40");
}

TEST(Money, ScaledDecimal) {
  EXPECT_EQ(*parse_scaled_decimal("218.75", 1024), 224'000);
  EXPECT_EQ(*parse_scaled_decimal("0.1667", 1000), 167);
  EXPECT_EQ(*parse_scaled_decimal("0.5", 1024), 512);
  EXPECT_FALSE(parse_scaled_decimal("x", 1));
  // A `$` is money, not a size; a scale must be positive.
  EXPECT_FALSE(parse_scaled_decimal("$1.5", 1024));
  EXPECT_FALSE(parse_scaled_decimal("1.5", -1024));
  EXPECT_FALSE(parse_scaled_decimal("1.5", 0));
}

}  // namespace
}  // namespace codefleet
