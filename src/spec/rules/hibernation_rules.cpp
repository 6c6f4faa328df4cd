// Hibernation rules (Azure: articles/virtual-machines/hibernate-resume.md).
// Only Dasv5/Dadsv5/Dsv5/Ddsv5/Easv5/Eadsv5/Esv5/Edsv5 sizes with up to 64 GB RAM and
// NVv4/NVadsA10v5/NVadsV710v5 sizes with up to 112 GB can hibernate; hibernation cannot be
// combined with Spot, Azure Backup, availability sets, capacity reservations or ephemeral
// OS disks. The catalog's `hibernation_supported` flag is the authority; the series table
// here only explains *why* a size is not eligible.
#include <algorithm>

#include <fmt/format.h>

#include "core/text.h"
#include "spec/validate.h"

namespace codefleet {

namespace {

struct EligibleSeries {
  const char* series;
  int64_t max_memory_gib;
};
constexpr EligibleSeries kEligible[] = {{"Dasv5", 64},        {"Dadsv5", 64},       {"Dsv5", 64},
                                        {"Ddsv5", 64},        {"Easv5", 64},        {"Eadsv5", 64},
                                        {"Esv5", 64},         {"Edsv5", 64},        {"NVv4", 112},
                                        {"NVadsA10_v5", 112}, {"NVadsV710_v5", 112}};

std::string why_not(const VmSize& size) {
  for (const auto& e : kEligible) {
    if (iequals(size.series, e.series)) {
      return fmt::format("{} has {} GiB of memory; {} sizes can hibernate only up to {} GiB",
                         size.sku, size.memory_mib / kMibPerGib, e.series, e.max_memory_gib);
    }
  }
  return fmt::format("the {} series does not support hibernation", size.series);
}

// The cheapest hibernation-capable size with at least `size`'s vCPUs, memory and GPUs
// (by vCPUs then memory when prices are unknown).
const VmSize* nearest_capable(const RuleContext& ctx, const VmSize& size,
                              const std::string& region) {
  const VmSize* best = nullptr;
  for (const VmSize* c : ctx.catalog.sizes()) {
    if (!c->hibernation_supported) continue;
    if (c->vcpus < size.vcpus || c->memory_mib < size.memory_mib || c->gpu_milli < size.gpu_milli ||
        c->gpu_memory_mib < size.gpu_memory_mib) {
      continue;
    }
    Offered o = ctx.catalog.offered(c->sku, region);
    if (o == Offered::kNo || o == Offered::kRestricted) continue;
    if (!best || std::tie(c->vcpus, c->memory_mib, c->gpu_milli) <
                     std::tie(best->vcpus, best->memory_mib, best->gpu_milli)) {
      best = c;
    }
  }
  return best;
}

std::string alternatives(const RuleContext& ctx, const Pool& pool, const VmSize& size) {
  std::string out =
      "set idle.action: deallocate (on AKS: scale_down_mode: Deallocate) — a deallocated VM pays "
      "for disks "
      "only, like a hibernated one, but boots instead of resuming";
  if (size.gpu_milli > 0) {
    out += fmt::format(
        "; note that deallocated {} nodes still hold {} quota — idle.action: delete "
        "(scale to zero) frees it",
        size.series, size.quota_family);
  }
  if (const VmSize* alt = nearest_capable(ctx, size, pool.region)) {
    out += fmt::format("; or switch to {} ({} vCPU, {} GiB), which can hibernate", alt->sku,
                       alt->vcpus, alt->memory_mib / kMibPerGib);
  } else {
    out += "; no hibernation-capable size in the catalog is as large";
  }
  return out;
}

class HibernationUnsupported final : public Rule {
 public:
  std::vector<std::string> ids() const override { return {"hibernation-unsupported"}; }
  void check(RuleContext& ctx) const override {
    for (const Pool* pool : ctx.spec.all_pools()) {
      const VmSize* size = ctx.catalog.find_size(pool->sku);
      if (!size || size->hibernation_supported) continue;
      if (pool->idle_action == IdleAction::kHibernate) {
        ctx.report("hibernation-unsupported", Severity::kError, pool->path + ".idle.action",
                   fmt::format("pool '{}' asks to hibernate {} when idle, but {}", pool->name,
                               size->sku, why_not(*size)),
                   alternatives(ctx, *pool, *size));
      } else if (ctx.spec.policies.require_hibernation) {
        ctx.report("hibernation-unsupported", Severity::kError, pool->path + ".sku",
                   fmt::format("policies.require_hibernation: pool '{}' uses {}, but {}",
                               pool->name, size->sku, why_not(*size)),
                   alternatives(ctx, *pool, *size) +
                       "; or drop policies.require_hibernation where deallocation is acceptable");
      }
    }
  }
};

class HibernationConflict final : public Rule {
 public:
  std::vector<std::string> ids() const override { return {"hibernation-conflict"}; }
  void check(RuleContext& ctx) const override {
    for (const Pool* pool : ctx.spec.all_pools()) {
      if (pool->idle_action != IdleAction::kHibernate) continue;
      auto conflict = [&](const std::string& field, const std::string& what,
                          const std::string& fix) {
        ctx.report("hibernation-conflict", Severity::kError, pool->path + "." + field,
                   fmt::format("pool '{}' hibernates when idle, but Azure cannot hibernate {}",
                               pool->name, what),
                   fix);
      };
      if (pool->spot)
        conflict("spot", "Spot VMs", "use spot: false, or idle.action: delete for a spot pool");
      if (pool->backup) {
        conflict("backup", "VMs protected by Azure Backup",
                 "set backup: false and back up data disks or storage instead, or use idle.action: "
                 "deallocate");
      }
      if (pool->availability_set) {
        conflict("availability_set", "VMs in an availability set",
                 "use availability zones (zones: [1, 2, 3]) instead of an availability set");
      }
      if (pool->os_disk.type == OsDiskType::kEphemeral) {
        conflict("os_disk.type", "VMs with an ephemeral OS disk (RAM is saved to the OS disk)",
                 "use os_disk.type: managed");
      }
      if (pool->capacity_reservation) {
        conflict("capacity_reservation", "VMs in a capacity reservation group",
                 "drop capacity_reservation, or use idle.action: deallocate");
      }
    }
  }
};

}  // namespace

std::vector<std::unique_ptr<Rule>> hibernation_rules() {
  std::vector<std::unique_ptr<Rule>> out;
  out.push_back(std::make_unique<HibernationUnsupported>());
  out.push_back(std::make_unique<HibernationConflict>());
  return out;
}

}  // namespace codefleet
