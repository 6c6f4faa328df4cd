// Organisation rules: required tags, network layout, and that every workload class
// has somewhere to run.
#include <algorithm>

#include <fmt/format.h>

#include "core/text.h"
#include "spec/cidr.h"
#include "spec/validate.h"

namespace codefleet {

namespace {

class TagMissing final : public Rule {
 public:
  std::vector<std::string> ids() const override { return {"tag-missing"}; }
  void check(RuleContext& ctx) const override {
    if (ctx.spec.required_tags.empty()) return;
    for (const auto& env : ctx.spec.environments) {
      for (const auto& pool : env.pools) {
        std::map<std::string, std::string> tags = ctx.spec.default_tags;
        for (const auto& [k, v] : env.tags) tags[k] = v;
        for (const auto& [k, v] : pool.tags) tags[k] = v;
        std::vector<std::string> missing;
        for (const auto& t : ctx.spec.required_tags) {
          auto it = tags.find(t);
          if (it == tags.end() || trim(it->second).empty()) missing.push_back(t);
        }
        if (missing.empty()) continue;
        ctx.report(
            "tag-missing", Severity::kError, pool.path + (pool.tags.empty() ? ".name" : ".tags"),
            fmt::format("pool '{}' lacks required tag{} {}", pool.name,
                        missing.size() > 1 ? "s" : "", fmt::join(missing, ", ")),
            fmt::format("add {} under tags.defaults, the environment's tags or the pool's tags",
                        fmt::join(missing, ", ")));
      }
    }
  }
};

class NetworkRules final : public Rule {
 public:
  std::vector<std::string> ids() const override {
    return {"cidr-invalid", "subnet-outside-vnet", "subnet-overlap"};
  }
  void check(RuleContext& ctx) const override {
    const Network& net = ctx.spec.network;
    std::optional<Cidr> vnet;
    if (!net.vnet_cidr.empty()) {
      vnet = parse_cidr(net.vnet_cidr);
      if (!vnet) {
        ctx.report(
            "cidr-invalid", Severity::kError, "network.vnet_cidr",
            fmt::format("'{}' is not an IPv4 CIDR block with its host bits clear", net.vnet_cidr),
            "e.g. 10.40.0.0/16");
      }
    }
    std::vector<std::pair<const Subnet*, Cidr>> parsed;
    for (const auto& sn : net.subnets) {
      auto c = parse_cidr(sn.cidr);
      if (!c) {
        ctx.report(
            "cidr-invalid", Severity::kError, sn.path + ".cidr",
            fmt::format("subnet '{}': '{}' is not an IPv4 CIDR block with its host bits clear",
                        sn.name, sn.cidr),
            "e.g. 10.40.1.0/24");
        continue;
      }
      if (vnet && !vnet->contains(*c)) {
        ctx.report("subnet-outside-vnet", Severity::kError, sn.path + ".cidr",
                   fmt::format("subnet '{}' ({}) is not inside the VNet {}", sn.name, sn.cidr,
                               net.vnet_cidr),
                   "pick a block inside network.vnet_cidr");
      }
      if (c->prefix > 29) {
        ctx.report("cidr-invalid", Severity::kError, sn.path + ".cidr",
                   fmt::format("subnet '{}' ({}) is smaller than /29, the smallest Azure allows",
                               sn.name, sn.cidr),
                   "use /29 or larger; AKS node subnets usually need /24 or more");
      }
      for (const auto& [other, oc] : parsed) {
        if (c->overlaps(oc)) {
          ctx.report("subnet-overlap", Severity::kError, sn.path + ".cidr",
                     fmt::format("subnet '{}' ({}) overlaps subnet '{}' ({})", sn.name, sn.cidr,
                                 other->name, other->cidr),
                     "give each subnet its own address block");
        }
      }
      parsed.emplace_back(&sn, *c);
    }
  }
};

class RegionUndeclared final : public Rule {
 public:
  std::vector<std::string> ids() const override { return {"region-undeclared"}; }
  void check(RuleContext& ctx) const override {
    for (const auto& env : ctx.spec.environments) {
      if (env.region.empty()) continue;
      if (std::find(ctx.spec.regions.begin(), ctx.spec.regions.end(), env.region) ==
          ctx.spec.regions.end()) {
        ctx.report(
            "region-undeclared", Severity::kError, env.path + ".region",
            fmt::format("environment '{}' is in {}, which is not in regions", env.name, env.region),
            "add it to regions, or fix the environment's region");
      }
    }
  }
};

class ClassUnroutable final : public Rule {
 public:
  std::vector<std::string> ids() const override { return {"class-unroutable"}; }
  void check(RuleContext& ctx) const override {
    for (const auto& c : ctx.spec.classes) {
      std::vector<std::string> why;
      bool routable = false;
      if (c.kind == ClassKind::kLlm) {
        for (const auto& d : ctx.spec.foundry) {
          if (std::find(d.classes.begin(), d.classes.end(), c.name) != d.classes.end())
            routable = true;
        }
        for (const auto& i : ctx.spec.inference) {
          if (std::find(i.classes.begin(), i.classes.end(), c.name) != i.classes.end())
            routable = true;
        }
        if (!routable)
          why.push_back("no Foundry deployment or self-hosted endpoint lists it in its classes");
      } else {
        for (const Pool* pool : ctx.spec.all_pools()) {
          bool listed =
              pool->classes.empty() ||
              std::find(pool->classes.begin(), pool->classes.end(), c.name) != pool->classes.end();
          if (!listed) continue;
          const VmSize* size = ctx.catalog.find_size(pool->sku);
          if (!size) continue;
          if (pool->max_nodes == 0) {
            why.push_back(fmt::format("pool '{}' has max_nodes 0", pool->name));
          } else if (!c.resources.fits_in(size->resources())) {
            why.push_back(fmt::format("pool '{}' ({}: {}) is too small", pool->name, size->sku,
                                      size->resources().to_string()));
          } else {
            routable = true;
          }
        }
        if (!routable && why.empty()) why.push_back("no pool lists it in its classes");
      }
      if (routable) continue;
      ctx.report(
          "class-unroutable", Severity::kError, c.path + ".name",
          fmt::format("workload class '{}' ({}) has nowhere to run: {}", c.name,
                      c.kind == ClassKind::kLlm ? "llm" : c.resources.to_string(),
                      fmt::join(why, "; ")),
          c.kind == ClassKind::kLlm
              ? "add the class to a foundry deployment's or an inference endpoint's classes"
              : "add the class to a pool whose size is large enough, or shrink its resources");
    }
  }
};

// One owner per pool's size: a pool the AKS cluster autoscaler sizes (scaler:
// cluster-autoscaler) cannot also follow what only CodeFleet does — a schedule that takes
// it to zero outside working hours, or stopping idle nodes (deallocate, hibernate). Both
// would set the same count and undo each other.
class ScalerConflict final : public Rule {
 public:
  std::vector<std::string> ids() const override { return {"scaler-conflict"}; }
  void check(RuleContext& ctx) const override {
    for (const Pool* pool : ctx.spec.all_pools()) {
      if (pool->scaler != "cluster-autoscaler") continue;
      std::vector<std::string> codefleet_only;
      if (pool->schedule) codefleet_only.push_back("a schedule");
      if (pool->idle_action == IdleAction::kHibernate ||
          pool->idle_action == IdleAction::kDeallocate) {
        codefleet_only.push_back(
            fmt::format("idle.action: {}", idle_action_name(pool->idle_action)));
      }
      if (codefleet_only.empty()) continue;
      ctx.report("scaler-conflict", Severity::kError, pool->path + ".scaler",
                 fmt::format("pool '{}' is sized by the AKS cluster autoscaler, yet has {}: only "
                             "CodeFleet acts on that, and two owners of one node count undo each "
                             "other",
                             pool->name, fmt::join(codefleet_only, " and ")),
                 "set scaler: codefleet (the daemon sizes the pool; the generated IaC turns the "
                 "autoscaler off), or drop the CodeFleet-only settings");
    }
  }
};

}  // namespace

std::vector<std::unique_ptr<Rule>> policy_rules() {
  std::vector<std::unique_ptr<Rule>> out;
  out.push_back(std::make_unique<TagMissing>());
  out.push_back(std::make_unique<NetworkRules>());
  out.push_back(std::make_unique<RegionUndeclared>());
  out.push_back(std::make_unique<ClassUnroutable>());
  out.push_back(std::make_unique<ScalerConflict>());
  return out;
}

}  // namespace codefleet
