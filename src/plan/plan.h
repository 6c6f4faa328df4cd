// `plan`: per pool, how many nodes (minimum, typical, peak from a simulated workload),
// how much quota, and what a month costs under each pricing option and scaling strategy;
// whether the budget holds; and the seed check, which recomputes the spec's own price
// assumptions and sets them beside the catalog's list prices.
//
//   Plan p = make_plan(model, catalog, sims, horizon);   // sims: strategy → SimResult
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "sim/engine.h"

namespace codefleet {

struct PoolPlan {
  std::string name, sku, quota_family;
  int64_t nodes_min = 0, nodes_typical = 0, nodes_peak = 0;
  int64_t quota_vcpus = 0;                             // max_nodes × vCPUs: what the pool can hold
  std::optional<int64_t> family_limit;                 // the spec's quota for its family
  std::vector<std::pair<std::string, Money>> monthly;  // option or strategy → USD a month
  bool estimated = false;                              // prices from a fallback region
};

struct SeedCheckItem {
  std::string item, stated, computed, note;
  bool consistent = true;
};

struct Advice {
  std::string kind;    // reservation | spot | idle-savings | self-hosting
  std::string target;  // pool, class or deployment
  std::string text;
  std::optional<Money> monthly_saving;
};

struct Plan {
  std::vector<PoolPlan> pools;
  std::optional<Money> budget;  // the first subscription-wide budget
  Money projected;              // a month under the codefleet strategy
  bool fits = true;
  std::optional<int64_t> budget_runs_out_day;  // day of the month, when it does not fit
  std::vector<int64_t> thresholds_pct;         // the budget's alert thresholds
  std::vector<int64_t> crossed_pct;            // those the projected month crosses
  std::vector<SeedCheckItem> seed_check;
  std::vector<Advice> advice;
  bool estimated = false;
};

// `sims` holds one result per strategy over `horizon`; monthly figures scale it to the
// spec's hours_per_month. Pricing options: pay-as-you-go, spot and 1/3-year reservations
// at peak size around the clock, each only where the catalog has the price.
Plan make_plan(const FleetModel& model, const Catalog& catalog,
               const std::map<std::string, SimResult>& sims, Duration horizon,
               std::optional<std::string> fallback_region);

std::vector<SeedCheckItem> seed_check(const FleetModel& model);
std::vector<Advice> advise(const FleetModel& model, const Catalog& catalog,
                           const std::map<std::string, SimResult>& sims,
                           std::optional<std::string> fallback_region);

}  // namespace codefleet
