// Quota rules. Azure counts the cores of every VM that exists — running, starting,
// deallocated or hibernated — so a pool's quota need is max_nodes × vCPUs whatever its
// idle action. Spot VMs count against the regional low-priority total instead of the
// family and regional totals.
#include <map>

#include <fmt/format.h>

#include "core/text.h"
#include "spec/validate.h"

namespace codefleet {

namespace {

struct FamilyUse {
  std::string family;  // as the catalog spells it
  int64_t vcpus = 0;
  std::vector<const Pool*> pools;
};

std::string pool_list(const std::vector<const Pool*>& pools) {
  std::vector<std::string> parts;
  for (const Pool* p : pools) parts.push_back(fmt::format("{} ({} nodes)", p->name, p->max_nodes));
  return fmt::format("{}", fmt::join(parts, ", "));
}

bool has_gpu(const RuleContext& ctx, const FamilyUse& u) {
  for (const Pool* p : u.pools) {
    const VmSize* s = ctx.catalog.find_size(p->sku);
    if (s && s->gpu_milli > 0) return true;
  }
  return false;
}

class QuotaRule final : public Rule {
 public:
  std::vector<std::string> ids() const override { return {"quota-exceeded", "quota-undeclared"}; }

  void check(RuleContext& ctx) const override {
    std::map<std::string, std::map<std::string, FamilyUse>> use;  // region → lower(family) → use
    std::map<std::string, int64_t> regional, spot;
    std::map<std::string, std::vector<const Pool*>> regional_pools, spot_pools;
    for (const Pool* pool : ctx.spec.all_pools()) {
      const VmSize* size = ctx.catalog.find_size(pool->sku);
      if (!size) continue;
      int64_t need = pool->max_nodes * size->vcpus;
      if (pool->spot) {
        spot[pool->region] += need;
        spot_pools[pool->region].push_back(pool);
        continue;
      }
      auto& u = use[pool->region][to_lower(size->quota_family)];
      u.family = size->quota_family;
      u.vcpus += need;
      u.pools.push_back(pool);
      regional[pool->region] += need;
      regional_pools[pool->region].push_back(pool);
    }
    for (const auto& [region, families] : use) {
      const QuotaSpec* q = ctx.spec.find_quota(region);
      for (const auto& [key, u] : families) {
        std::optional<int64_t> limit;
        std::string quota_path;
        if (q) {
          for (const auto& [name, vcpus] : q->families) {
            if (iequals(name, u.family)) {
              limit = vcpus;
              quota_path = q->path + ".families." + name;
            }
          }
        }
        if (!limit) {
          ctx.report(
              "quota-undeclared", Severity::kWarning, u.pools.front()->path + ".sku",
              fmt::format("no quota declared for {} in {}; pools {} need up to {} vCPUs of it",
                          u.family, region, pool_list(u.pools), u.vcpus),
              fmt::format("declare it under quotas (region: {}, families: {{{}: N}}) from "
                          "`az vm list-usage --location {}`{}",
                          region, u.family, region,
                          has_gpu(ctx, u)
                              ? "; GPU families often start at 0 vCPUs and need a quota request"
                              : ""));
          continue;
        }
        for (const Pool* p : u.pools) {
          const VmSize* size = ctx.catalog.find_size(p->sku);
          if (p->max_nodes * size->vcpus > *limit) {
            int64_t fit = *limit / size->vcpus;
            ctx.report(
                "quota-exceeded", Severity::kError, p->path + ".max_nodes",
                fmt::format(
                    "pool '{}': {} × {} ({} vCPUs) = {} vCPUs, above the {} quota of {} in {}",
                    p->name, p->max_nodes, size->sku, size->vcpus, p->max_nodes * size->vcpus,
                    u.family, *limit, region),
                fmt::format("set max_nodes to at most {} ({} vCPUs), or request a quota increase; "
                            "deallocated and hibernated nodes still hold their cores",
                            fit, fit * size->vcpus));
          }
        }
        if (u.pools.size() > 1 && u.vcpus > *limit) {
          ctx.report("quota-exceeded", Severity::kError, quota_path,
                     fmt::format(
                         "pools {} together need up to {} vCPUs of {} in {}, above the quota of {}",
                         pool_list(u.pools), u.vcpus, u.family, region, *limit),
                     "lower max_nodes so the sum fits, or request a quota increase; only deleting "
                     "a VM frees "
                     "quota, so stopped warm nodes count too");
        }
      }
      if (q && q->total_vcpus && regional[region] > *q->total_vcpus) {
        ctx.report("quota-exceeded", Severity::kError, q->path + ".total_vcpus",
                   fmt::format("pools in {} need up to {} vCPUs, above the regional total of {}",
                               region, regional[region], *q->total_vcpus),
                   "lower max_nodes or request a regional vCPU quota increase");
      }
    }
    for (const auto& [region, need] : spot) {
      const QuotaSpec* q = ctx.spec.find_quota(region);
      if (q && q->spot_vcpus && need > *q->spot_vcpus) {
        ctx.report(
            "quota-exceeded", Severity::kError, q->path + ".spot_vcpus",
            fmt::format("spot pools {} need up to {} vCPUs, above the regional low-priority (spot) "
                        "total of {} in {}",
                        pool_list(spot_pools[region]), need, *q->spot_vcpus, region),
            "lower the spot pools' max_nodes or request a low-priority vCPU quota increase");
      }
    }
  }
};

}  // namespace

std::vector<std::unique_ptr<Rule>> quota_rules() {
  std::vector<std::unique_ptr<Rule>> out;
  out.push_back(std::make_unique<QuotaRule>());
  return out;
}

}  // namespace codefleet
