// Cost rules: a budget must at least cover the pools' always-on minimum, and the prices
// a spec assumes must be near the catalog's list prices.
#include <fmt/format.h>

#include "core/text.h"
#include "spec/validate.h"

namespace codefleet {

namespace {

constexpr int64_t kMinutesPerWeek = 7 * 24 * 60;
constexpr int64_t kMismatchPct = 25;

std::string usd(Money m, int decimals = 2) { return "$" + m.to_string(decimals); }

class BudgetBelowFloor final : public Rule {
 public:
  std::vector<std::string> ids() const override { return {"budget-below-floor"}; }
  void check(RuleContext& ctx) const override {
    for (const Budget& b : ctx.spec.budgets) {
      Money floor;
      bool estimated = false;
      std::vector<std::string> parts, unpriced;
      for (const Pool* pool : ctx.spec.all_pools()) {
        if (b.scope != "subscription" && pool->environment != b.scope) continue;
        if (pool->min_nodes == 0) continue;
        auto price = ctx.pool_price(*pool);
        if (!price) {
          unpriced.push_back(pool->name);
          continue;
        }
        // min_nodes run all month, or only inside the pool's schedule.
        int64_t minutes =
            pool->schedule ? scheduled_minutes_per_week(*pool->schedule) : kMinutesPerWeek;
        Money monthly = price->usd_per_hour.mul_div(
            pool->min_nodes * ctx.spec.policies.hours_per_month * minutes, kMinutesPerWeek);
        floor += monthly;
        estimated = estimated || price->estimated;
        parts.push_back(
            fmt::format("{}: {} × {} = {}", pool->name, pool->min_nodes, pool->sku, usd(monthly)));
      }
      if (floor > b.amount_usd) {
        ctx.report(
            "budget-below-floor", Severity::kError, b.path + ".amount_usd",
            fmt::format(
                "budget '{}' is {} a month, but the pools' always-on minimum costs {} a month at "
                "list prices{} ({})",
                b.name, usd(b.amount_usd), usd(floor), estimated ? " (some estimated)" : "",
                fmt::join(parts, "; ")),
            "lower min_nodes (let idle pools scale to zero and hibernate or deallocate), give "
            "pools a "
            "schedule, or raise the budget");
      } else if (!unpriced.empty()) {
        ctx.report("price-unavailable", Severity::kWarning, b.path + ".amount_usd",
                   fmt::format("budget '{}' was checked without pools {} (no price)", b.name,
                               fmt::join(unpriced, ", ")),
                   "import the missing prices or set pricing.fallback_region");
      }
    }
  }
};

class PriceEstimateMismatch final : public Rule {
 public:
  std::vector<std::string> ids() const override { return {"price-estimate-mismatch"}; }

  void check(RuleContext& ctx) const override {
    for (const PriceAssumption& a : ctx.spec.price_assumptions) {
      bool any = false;
      for (const Pool* pool : ctx.spec.all_pools()) {
        const VmSize* size = ctx.catalog.find_size(pool->sku);
        if (!size) continue;
        if (!(a.sku.empty() ? iequals(size->series, a.series) : iequals(size->sku, a.sku)))
          continue;
        any = true;
        compare(ctx, a, *pool, *size);
      }
      if (!any) {
        ctx.report("price-estimate-mismatch", Severity::kWarning, a.path,
                   fmt::format("price assumption for '{}' matches no pool, so it was not checked",
                               a.sku.empty() ? a.series : a.sku));
      }
    }
    for (const Pool* pool : ctx.spec.all_pools()) {
      if (!pool->price_assumption) continue;
      const VmSize* size = ctx.catalog.find_size(pool->sku);
      if (size) compare(ctx, *pool->price_assumption, *pool, *size);
    }
  }

 private:
  static void compare(RuleContext& ctx, const PriceAssumption& a, const Pool& pool,
                      const VmSize& size) {
    auto price = ctx.pool_price(pool);
    if (!price) return;  // price-unavailable already says so
    bool per_vcpu = a.basis == "vcpu_hour";
    Money actual = per_vcpu ? price->usd_per_hour.mul_div(1, size.vcpus) : price->usd_per_hour;
    Money assumed = actual < a.min_usd ? a.min_usd : (actual > a.max_usd ? a.max_usd : actual);
    if (actual.micros() <= 0) return;
    Int128 diff = static_cast<Int128>(assumed.micros() - actual.micros()) * 100;
    int64_t pct = static_cast<int64_t>(diff / actual.micros());
    if (pct <= kMismatchPct && pct >= -kMismatchPct) return;
    std::string unit = per_vcpu ? "per vCPU-hour" : "per VM-hour";
    std::string stated = a.min_usd == a.max_usd
                             ? usd(a.min_usd, 4)
                             : fmt::format("{}–{}", usd(a.min_usd, 4), usd(a.max_usd, 4));
    std::string scale;
    if (per_vcpu) {
      int64_t vcpus = pool.max_nodes * size.vcpus;
      scale = fmt::format("; for pool '{}' at {} vCPUs: {} an hour assumed vs {} at list price",
                          pool.name, vcpus, usd(a.max_usd * vcpus), usd(actual * vcpus));
    }
    ctx.report(
        "price-estimate-mismatch", Severity::kWarning, a.path,
        fmt::format(
            "assumes {} {} for {}, but the catalog's list price for {} in {} is {} {} ({} per "
            "VM-hour{}; source: {}{}) — {}{}% off{}",
            stated, unit, a.sku.empty() ? (a.series.empty() ? size.sku : a.series) : a.sku,
            size.sku, pool.region, usd(actual, 4), unit, usd(price->usd_per_hour, 4),
            RuleContext::estimate_note(*price), price->source,
            price->as_of.empty() ? ", undated" : ", as of " + price->as_of, pct > 0 ? "+" : "", pct,
            scale),
        "use the catalog's price (`codefleet catalog show " + size.sku + " --region " +
            pool.region + "`), and import current " + pool.region +
            " prices with `codefleet catalog import-prices`");
  }
};

}  // namespace

std::vector<std::unique_ptr<Rule>> cost_rules() {
  std::vector<std::unique_ptr<Rule>> out;
  out.push_back(std::make_unique<BudgetBelowFloor>());
  out.push_back(std::make_unique<PriceEstimateMismatch>());
  return out;
}

}  // namespace codefleet
