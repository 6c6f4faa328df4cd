// Cost arithmetic for plans and budgets, in exact integer micro-USD: monthly cost of
// nodes, budget thresholds and forecasts, and the break-even points behind advice
// (when a reservation pays, when self-hosting beats a Foundry deployment).
//
//   Money month = monthly_cost(h100.price.usd_per_hour, /*nodes=*/36, /*hours=*/730);
//   auto status = evaluate_budget(budget, spent, elapsed, period);
//   int64_t ppm = reservation_break_even_ppm(payg, reserved_1y);   // 590'000 = 59% use
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/money.h"
#include "core/time.h"

namespace codefleet {

// price × nodes × hours.
Money monthly_cost(Money usd_per_hour, int64_t nodes, int64_t hours_per_month);

// Above this share of the hours in use (parts per million), a reservation billed for every
// hour costs less than pay-as-you-go for the hours used: reserved ÷ payg. 1'000'000 or more
// means it never pays. Payg must be positive.
int64_t reservation_break_even_ppm(Money payg_usd_per_hour, Money reserved_usd_per_hour);

// Tokens per hour above which one self-hosted node (its hourly price) is cheaper than a
// Foundry deployment billed per token, for calls with `prompt` input tokens per `completion`
// output token. nullopt when the node cannot serve that many tokens an hour
// (`node_tokens_per_hour`), i.e. self-hosting never pays.
std::optional<int64_t> self_hosting_break_even_tokens_per_hour(Money node_usd_per_hour,
                                                               Money usd_per_1m_input,
                                                               Money usd_per_1m_output,
                                                               int64_t prompt, int64_t completion,
                                                               int64_t node_tokens_per_hour);

struct BudgetStatus {
  Money spent;
  Money forecast;                       // run-rate to the end of the period
  std::vector<int64_t> crossed_pct;     // thresholds the spend has crossed
  std::vector<int64_t> forecast_pct;    // thresholds the forecast will cross
  std::optional<Duration> runs_out_in;  // from now, at the run rate; nullopt if it will not
};

// Spend `spent` after `elapsed` of a budget period of `period`: the run-rate forecast
// spent × period ÷ elapsed (rounded half away from zero), which thresholds are crossed
// now and by the forecast, and when the amount is reached at that rate.
BudgetStatus evaluate_budget(Money amount, const std::vector<int64_t>& thresholds_pct, Money spent,
                             Duration elapsed, Duration period);

// A pool's hourly cost and how much of the week it runs (its schedule; 10,080 minutes
// = always).
struct ScheduledRate {
  Money usd_per_hour;
  int64_t minutes_per_week = 7 * 24 * 60;
};

// Schedule-aware forecast: what has been spent, plus each rate over the remaining time in
// proportion to its schedule.
Money scheduled_forecast(Money spent, Duration remaining, const std::vector<ScheduledRate>& rates);

// An append-only record of spend in exact micro-USD, by key (pool, tenant, deployment...),
// with totals over a time range. Entries are kept in time order of arrival.
class CostLedger {
 public:
  struct Entry {
    TimePoint at;
    std::string key;
    Money amount;
  };
  void record(TimePoint at, std::string key, Money amount);
  // Sum of entries with from <= at < to, all keys or one.
  Money total(TimePoint from, TimePoint to, const std::string& key = {}) const;
  std::map<std::string, Money> by_key(TimePoint from, TimePoint to) const;
  const std::vector<Entry>& entries() const { return entries_; }

 private:
  std::vector<Entry> entries_;
};

}  // namespace codefleet
