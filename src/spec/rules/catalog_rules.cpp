// Rules that check pools against the catalog: the size exists, is offered in the
// pool's region, and has a price there (or a declared fallback).
#include <fmt/format.h>

#include "core/text.h"
#include "spec/validate.h"

namespace codefleet {

namespace {

class SkuRules final : public Rule {
 public:
  std::vector<std::string> ids() const override {
    return {"sku-unknown", "sku-not-in-region", "price-unavailable"};
  }

  void check(RuleContext& ctx) const override {
    std::vector<std::string> names;
    for (const VmSize* s : ctx.catalog.sizes()) names.push_back(s->sku);
    for (const Pool* pool : ctx.spec.all_pools()) {
      const VmSize* size = ctx.catalog.find_size(pool->sku);
      if (!size) {
        std::string near = closest_match(pool->sku, names);
        ctx.report(
            "sku-unknown", Severity::kError, pool->path + ".sku",
            fmt::format("pool '{}': VM size '{}' is not in the catalog", pool->name, pool->sku),
            near.empty() ? "check `codefleet catalog list`, or import the size with "
                           "`codefleet catalog import-skus` (from `az vm list-skus --output json`)"
                         : fmt::format("did you mean '{}'?", near));
        continue;
      }
      Offered o = ctx.catalog.offered(size->sku, pool->region);
      if (o == Offered::kNo || o == Offered::kRestricted) {
        ctx.report(
            "sku-not-in-region", Severity::kError, pool->path + ".sku",
            fmt::format("pool '{}': {} is {} in {}", pool->name, size->sku,
                        o == Offered::kNo ? "not offered" : "restricted for this subscription",
                        pool->region),
            o == Offered::kNo
                ? "pick a size that `codefleet catalog list --region " + pool->region + "` shows"
                : "ask Azure support to lift the restriction, or use another region or size");
        continue;
      }
      auto price = ctx.catalog.price(size->sku, pool->region, PriceType::kPayg,
                                     ctx.fallback_region().empty()
                                         ? std::nullopt
                                         : std::optional<std::string>(ctx.fallback_region()));
      if (!price) {
        ctx.report("price-unavailable", Severity::kWarning, pool->path + ".sku",
                   fmt::format(
                       "pool '{}': no pay-as-you-go price for {} in {}; cost checks skip this pool",
                       pool->name, size->sku, pool->region),
                   missing_price_hint(size->sku, pool->region));
      }
    }
  }
};

}  // namespace

std::vector<std::unique_ptr<Rule>> catalog_rules() {
  std::vector<std::unique_ptr<Rule>> out;
  out.push_back(std::make_unique<SkuRules>());
  return out;
}

}  // namespace codefleet
