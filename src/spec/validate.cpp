#include "spec/validate.h"

#include <algorithm>
#include <bitset>

#include <fmt/format.h>

namespace codefleet {

const char* severity_name(Severity s) { return s == Severity::kError ? "error" : "warning"; }

void RuleContext::report(const std::string& rule, Severity sev, const std::string& path,
                         std::string message, std::string suggestion) {
  out_.push_back(
      {rule, sev, path, parsed.position_of(path), std::move(message), std::move(suggestion)});
}

std::string RuleContext::fallback_region() const {
  if (options_.price_fallback_region) return *options_.price_fallback_region;
  return spec.price_fallback_region;
}

std::optional<Price> RuleContext::pool_price(const Pool& pool) const {
  std::optional<std::string> fb;
  if (!fallback_region().empty()) fb = fallback_region();
  if (pool.spot) {
    auto p = catalog.price(pool.sku, pool.region, PriceType::kSpot, fb);
    if (p) return *p;
  }
  auto p = catalog.price(pool.sku, pool.region, PriceType::kPayg, fb);
  if (!p) return std::nullopt;
  return *p;
}

std::string RuleContext::estimate_note(const Price& p) {
  if (!p.estimated) return "";
  return fmt::format(" (estimated from the {} list price)", p.estimated_from);
}

std::vector<std::string> all_rule_ids() {
  std::vector<std::string> ids;
  for (auto* family :
       {&catalog_rules, &quota_rules, &hibernation_rules, &cost_rules, &policy_rules}) {
    for (const auto& r : (*family)()) {
      for (const auto& id : r->ids()) ids.push_back(id);
    }
  }
  return ids;
}

std::vector<Finding> validate_spec(const ParsedSpec& parsed, const Catalog& catalog,
                                   const ValidateOptions& options) {
  std::vector<Finding> out;
  RuleContext ctx(parsed, catalog, options, out);
  for (auto* family :
       {&catalog_rules, &quota_rules, &hibernation_rules, &cost_rules, &policy_rules}) {
    for (const auto& rule : (*family)()) rule->check(ctx);
  }
  std::stable_sort(out.begin(), out.end(), [](const Finding& a, const Finding& b) {
    return std::tie(a.pos.line, a.pos.column) < std::tie(b.pos.line, b.pos.column);
  });
  return out;
}

int64_t scheduled_minutes_per_week(const Schedule& schedule) {
  constexpr int kWeek = 7 * 24 * 60;
  std::bitset<kWeek> on;
  for (const auto& w : schedule.windows) {
    std::vector<int> days = w.days;
    if (days.empty()) days = {0, 1, 2, 3, 4, 5, 6};
    for (int d : days) {
      int start = d * 1440 + w.start_minute;
      int end = d * 1440 + w.end_minute;
      if (w.end_minute <= w.start_minute) end += 1440;  // crosses midnight (or the whole day)
      for (int m = start; m < end; ++m) on.set(m % kWeek);
    }
  }
  return static_cast<int64_t>(on.count());
}

}  // namespace codefleet
