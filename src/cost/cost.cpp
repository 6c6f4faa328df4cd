#include "cost/cost.h"

#include <algorithm>

namespace codefleet {

Money monthly_cost(Money usd_per_hour, int64_t nodes, int64_t hours_per_month) {
  return usd_per_hour.mul_div(nodes * hours_per_month, 1);
}

int64_t reservation_break_even_ppm(Money payg, Money reserved) {
  if (payg.micros() <= 0) return INT64_MAX;
  return div_round_half_away(static_cast<Int128>(reserved.micros()) * 1'000'000, payg.micros());
}

std::optional<int64_t> self_hosting_break_even_tokens_per_hour(Money node_usd_per_hour,
                                                               Money in_per_1m, Money out_per_1m,
                                                               int64_t prompt, int64_t completion,
                                                               int64_t node_tokens_per_hour) {
  int64_t tokens = prompt + completion;
  if (tokens <= 0) return std::nullopt;
  // Foundry price of one "mix" of prompt + completion tokens, in micro-USD × 1M.
  Int128 mix_price = static_cast<Int128>(in_per_1m.micros()) * prompt +
                     static_cast<Int128>(out_per_1m.micros()) * completion;
  if (mix_price <= 0) return std::nullopt;  // free tokens: self-hosting never pays
  // node price per hour = tokens_per_hour / tokens × mix_price / 1M  →  solve for tokens_per_hour.
  Int128 num = static_cast<Int128>(node_usd_per_hour.micros()) * 1'000'000 * tokens;
  int64_t break_even = static_cast<int64_t>((num + mix_price - 1) / mix_price);  // round up
  if (break_even > node_tokens_per_hour) return std::nullopt;
  return break_even;
}

BudgetStatus evaluate_budget(Money amount, const std::vector<int64_t>& thresholds_pct, Money spent,
                             Duration elapsed, Duration period) {
  BudgetStatus s;
  s.spent = spent;
  int64_t el = std::max<int64_t>(1, elapsed.count());
  s.forecast = spent.mul_div(period.count(), el);
  for (int64_t pct : thresholds_pct) {
    Money line = amount.mul_div(pct, 100);
    if (spent >= line) s.crossed_pct.push_back(pct);
    if (s.forecast >= line) s.forecast_pct.push_back(pct);
  }
  if (spent >= amount) {
    s.runs_out_in = Duration{0};
  } else if (spent.micros() > 0 && s.forecast >= amount) {
    // At spent/elapsed per unit of time, the rest lasts (amount - spent) × elapsed / spent.
    s.runs_out_in = Duration{
        div_round_half_away(static_cast<Int128>((amount - spent).micros()) * el, spent.micros())};
  }
  return s;
}

Money scheduled_forecast(Money spent, Duration remaining, const std::vector<ScheduledRate>& rates) {
  constexpr int64_t kMsPerHour = 3'600'000;
  constexpr int64_t kMinutesPerWeek = 7 * 24 * 60;
  Money total = spent;
  for (const auto& r : rates) {
    // rate × remaining hours × share of the week on, in one rounding.
    Int128 num =
        static_cast<Int128>(r.usd_per_hour.micros()) * remaining.count() * r.minutes_per_week;
    total += Money::from_micros(div_round_half_away(num, kMsPerHour * kMinutesPerWeek));
  }
  return total;
}

void CostLedger::record(TimePoint at, std::string key, Money amount) {
  entries_.push_back({at, std::move(key), amount});
}

Money CostLedger::total(TimePoint from, TimePoint to, const std::string& key) const {
  Money sum;
  for (const auto& e : entries_) {
    if (e.at >= from && e.at < to && (key.empty() || e.key == key)) sum += e.amount;
  }
  return sum;
}

std::map<std::string, Money> CostLedger::by_key(TimePoint from, TimePoint to) const {
  std::map<std::string, Money> out;
  for (const auto& e : entries_) {
    if (e.at >= from && e.at < to) out[e.key] += e.amount;
  }
  return out;
}

}  // namespace codefleet
