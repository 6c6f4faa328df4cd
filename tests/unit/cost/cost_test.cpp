// Hand-computed cases for the cost arithmetic.
#include <gtest/gtest.h>

#include "cost/cost.h"

namespace codefleet {
namespace {

using namespace std::chrono_literals;

Money usd(const char* s) { return *Money::parse(s); }

TEST(Cost, MonthlyCost) {
  // 36 × NC40ads_H100_v5 at $6.98/h for 730 h.
  EXPECT_EQ(monthly_cost(usd("6.98"), 36, 730).to_string(2), "183434.40");
  // The requirements' $4.50 per vCore-hour for 1440 vCores, a month: $4,730,400.
  EXPECT_EQ(monthly_cost(usd("4.50"), 1440, 730).to_string(2), "4730400.00");
  EXPECT_EQ(monthly_cost(usd("0.0832"), 0, 730).micros(), 0);
}

TEST(Cost, ReservationBreakEven) {
  // The catalog's Standard_M8ms eastus rows: payg $1.5365/h, 1-year $0.883562/h → a
  // reservation pays above 57.5048% use (883562 / 1536500 = 0.5750484…, rounded).
  EXPECT_EQ(reservation_break_even_ppm(usd("1.5365"), usd("0.883562")), 575'048);
  EXPECT_EQ(reservation_break_even_ppm(usd("1.00"), usd("0.50")), 500'000);
  EXPECT_GE(reservation_break_even_ppm(usd("1.00"), usd("1.20")), 1'000'000);  // never pays
  EXPECT_EQ(reservation_break_even_ppm(Money(), usd("1.00")), INT64_MAX);
}

TEST(Cost, SelfHostingBreakEven) {
  // A $13.96/h node vs gpt-4o at $2.50 in / $10.00 out per 1M, 4:1 prompt:completion:
  // a mix of 5 tokens costs 4 × 2.50 + 1 × 10 = $20 per 1M mixes → $4 per 1M tokens;
  // 13.96 / 4 × 1M = 3,490,000 tokens an hour.
  auto be = self_hosting_break_even_tokens_per_hour(usd("13.96"), usd("2.50"), usd("10.00"), 4, 1,
                                                    2 * 2500 * 3600);
  ASSERT_TRUE(be);
  EXPECT_EQ(*be, 3'490'000);
  // The node cannot serve that many (1M tokens an hour): self-hosting never pays.
  EXPECT_FALSE(self_hosting_break_even_tokens_per_hour(usd("13.96"), usd("2.50"), usd("10.00"), 4,
                                                       1, 1'000'000));
  // gpt-4o-mini at $0.15 / $0.60: $0.24 per 1M tokens → 58,166,667 tokens an hour (rounded up).
  auto mini = self_hosting_break_even_tokens_per_hour(usd("13.96"), usd("0.15"), usd("0.60"), 4, 1,
                                                      100'000'000);
  ASSERT_TRUE(mini);
  EXPECT_EQ(*mini, 58'166'667);
}

TEST(Cost, BudgetThresholdsAndForecast) {
  Money amount = usd("1000");
  std::vector<int64_t> th{50, 80, 100};
  // Day 10 of 30, $400 spent: forecast $1,200; 50% not yet crossed; forecast crosses all;
  // at $40/day the remaining $600 lasts 15 days.
  auto s = evaluate_budget(amount, th, usd("400"), 10 * 24h, 30 * 24h);
  EXPECT_EQ(s.forecast.to_string(2), "1200.00");
  EXPECT_TRUE(s.crossed_pct.empty());
  EXPECT_EQ(s.forecast_pct, (std::vector<int64_t>{50, 80, 100}));
  ASSERT_TRUE(s.runs_out_in);
  EXPECT_EQ(*s.runs_out_in, std::chrono::duration_cast<Duration>(15 * 24h));
  // Crossing each threshold in turn.
  EXPECT_EQ(evaluate_budget(amount, th, usd("500"), 15 * 24h, 30 * 24h).crossed_pct,
            (std::vector<int64_t>{50}));
  EXPECT_EQ(evaluate_budget(amount, th, usd("800"), 20 * 24h, 30 * 24h).crossed_pct,
            (std::vector<int64_t>{50, 80}));
  auto over = evaluate_budget(amount, th, usd("1000"), 25 * 24h, 30 * 24h);
  EXPECT_EQ(over.crossed_pct, (std::vector<int64_t>{50, 80, 100}));
  EXPECT_EQ(*over.runs_out_in, Duration{0});
  // Under budget at the run rate: no run-out.
  auto fine = evaluate_budget(amount, th, usd("100"), 15 * 24h, 30 * 24h);
  EXPECT_EQ(fine.forecast.to_string(2), "200.00");
  EXPECT_FALSE(fine.runs_out_in);
  // Rounding: $1 after 7 of 30 days → 30/7 = 4.285714 (half away from zero at the micro-dollar).
  EXPECT_EQ(evaluate_budget(amount, th, usd("1"), 7 * 24h, 30 * 24h).forecast.to_string(),
            "4.285714");
}

}  // namespace
}  // namespace codefleet

namespace codefleet {
namespace {

using namespace std::chrono_literals;

TEST(Cost, ScheduleAwareForecast) {
  // $100 spent; 10 days left; one pool at $2/h around the clock, one at $6/h on weekdays
  // 08:00-18:00 (3,000 of 10,080 minutes a week): 2 × 240 + 6 × 240 × 3000/10080 = 480 +
  // 428.571429.
  Money f = scheduled_forecast(*Money::parse("100"), 240h,
                               {{*Money::parse("2"), 10'080}, {*Money::parse("6"), 3'000}});
  EXPECT_EQ(f.to_string(), "1008.571429");
  EXPECT_EQ(scheduled_forecast(*Money::parse("5"), 0h, {{*Money::parse("2"), 10'080}}).to_string(),
            "5");
}

TEST(Cost, LedgerTotalsByKeyAndRange) {
  CostLedger l;
  TimePoint t0 = *parse_rfc3339("2026-11-01T00:00:00Z");
  l.record(t0, "h100", *Money::parse("6.98"));
  l.record(t0 + 1h, "ci", *Money::parse("0.166"));
  l.record(t0 + 2h, "h100", *Money::parse("6.98"));
  l.record(t0 + 48h, "h100", *Money::parse("1"));
  EXPECT_EQ(l.total(t0, t0 + 24h).to_string(), "14.126");
  EXPECT_EQ(l.total(t0, t0 + 24h, "h100").to_string(), "13.96");
  auto by = l.by_key(t0, t0 + 72h);
  EXPECT_EQ(by.at("h100").to_string(), "14.96");
  EXPECT_EQ(by.at("ci").to_string(), "0.166");
  EXPECT_EQ(l.total(t0 + 3h, t0 + 24h).micros(), 0);
}

}  // namespace
}  // namespace codefleet
