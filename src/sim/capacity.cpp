#include "sim/capacity.h"

#include <algorithm>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "scheduling/quota_ledger.h"

namespace codefleet {

namespace {

// Pools in the order that gets the most GPUs out of a quota: most GPUs per vCPU first
// (they compete for the same family and regional cores), then by index.
std::vector<const PoolModel*> gpu_pools_best_first(const FleetModel& model) {
  std::vector<const PoolModel*> pools;
  for (const auto& p : model.pools) {
    if (p.node.gpu_milli > 0 && p.node.vcpus > 0) pools.push_back(&p);
  }
  std::stable_sort(pools.begin(), pools.end(), [](const PoolModel* a, const PoolModel* b) {
    return a->node.gpu_milli * b->node.vcpus > b->node.gpu_milli * a->node.vcpus;
  });
  return pools;
}

// Pools that can have a node at all: max_nodes above 0, and one node within every quota.
std::vector<bool> pools_that_can_exist(const FleetModel& model, const QuotaLedger& empty) {
  std::vector<bool> out;
  for (const auto& p : model.pools) {
    out.push_back(p.max_nodes > 0 &&
                  empty.can_reserve(p.region, p.quota_family, p.spot, p.node.vcpus));
  }
  return out;
}

bool some_pool_holds(const FleetModel& model, const std::vector<bool>& can_exist, const Task& t) {
  for (const auto& p : model.pools) {
    if (can_exist[static_cast<size_t>(p.index)] && p.serves(t.class_name) &&
        t.resources.fits_in(p.node))
      return true;
  }
  return false;
}

}  // namespace

CapacityCheck check_capacity(const FleetModel& model, const Workload& workload) {
  CapacityCheck out;
  QuotaLedger ledger = model.spec ? QuotaLedger::from_spec(*model.spec) : QuotaLedger{};
  const std::vector<bool> can_exist = pools_that_can_exist(model, ledger);

  // A sweep over starts and ends; at equal times ends first (a task ending as another
  // starts frees its GPUs for it).
  std::vector<std::pair<Duration, int64_t>> steps;
  std::set<std::string> gpu_classes;
  for (const auto& a : workload.arrivals) {
    if (a.task.resources.gpu_milli <= 0 || !some_pool_holds(model, can_exist, a.task)) continue;
    gpu_classes.insert(a.task.class_name);
    steps.push_back({a.at, a.task.resources.gpu_milli});
    steps.push_back({a.at + a.task.duration, -a.task.resources.gpu_milli});
  }
  std::sort(steps.begin(), steps.end());
  int64_t now = 0;
  for (const auto& [at, delta] : steps) {
    now += delta;
    if (now > out.peak_gpu_milli) {
      out.peak_gpu_milli = now;
      out.peak_gpu_at = at;
    }
  }

  // The GPUs of the pools that serve that work: every pool's min_nodes exist whatever the
  // load, so they take their quota first; then the serving pools up to max_nodes, most
  // GPUs per vCPU first (a greedy fill: with whole nodes of unlike sizes sharing a limit
  // it can fall a node short of the best mix).
  auto serves_gpu_work = [&](const PoolModel& p) {
    return p.node.gpu_milli > 0 && std::any_of(gpu_classes.begin(), gpu_classes.end(),
                                               [&](const std::string& c) { return p.serves(c); });
  };
  std::vector<int64_t> nodes(model.pools.size(), 0);
  for (const auto& p : model.pools) {
    for (; nodes[static_cast<size_t>(p.index)] < std::min(p.min_nodes, p.max_nodes);
         ++nodes[static_cast<size_t>(p.index)]) {
      if (!ledger.reserve(p.region, p.quota_family, p.spot, p.node.vcpus)) break;
      if (serves_gpu_work(p)) out.fleet_gpu_milli += p.node.gpu_milli;
    }
  }
  for (const PoolModel* p : gpu_pools_best_first(model)) {
    if (!serves_gpu_work(*p)) continue;
    for (int64_t& n = nodes[static_cast<size_t>(p->index)]; n < p->max_nodes; ++n) {
      if (!ledger.reserve(p->region, p->quota_family, p->spot, p->node.vcpus)) break;
      out.fleet_gpu_milli += p->node.gpu_milli;
    }
  }
  return out;
}

}  // namespace codefleet
