#include "sim/region.h"

#include <cmath>
#include <set>

#include <fmt/format.h>

#include "core/text.h"

namespace codefleet {

using namespace std::chrono;

const char* vm_state_name(VmState s) {
  switch (s) {
    case VmState::kCreating:
      return "creating";
    case VmState::kRunning:
      return "running";
    case VmState::kStarting:
      return "starting";
    case VmState::kDeallocated:
      return "deallocated";
    case VmState::kHibernated:
      return "hibernated";
  }
  return "unknown";
}

namespace {
constexpr int64_t kMsPerHour = 3'600'000;
Money from_accumulator(Int128 micros_times_ms) {
  return Money::from_micros(div_round_half_away(micros_times_ms, kMsPerHour));
}
}  // namespace

Money RegionBill::compute(const std::string& pool) const {
  auto it = compute_by_pool.find(pool);
  return it == compute_by_pool.end() ? Money() : from_accumulator(it->second);
}
Money RegionBill::disk(const std::string& pool) const {
  auto it = disk_by_pool.find(pool);
  return it == disk_by_pool.end() ? Money() : from_accumulator(it->second);
}
Money RegionBill::disk_stopped(const std::string& pool) const {
  auto it = disk_stopped_by_pool.find(pool);
  return it == disk_stopped_by_pool.end() ? Money() : from_accumulator(it->second);
}
Money RegionBill::total() const {
  Int128 sum = 0;
  for (const auto& [p, v] : compute_by_pool) sum += v;
  for (const auto& [p, v] : disk_by_pool) sum += v;
  return from_accumulator(sum);
}

SimulatedRegion::SimulatedRegion(const FleetModel& model, const Spec& spec, RegionOptions options)
    : model_(model),
      options_(std::move(options)),
      quota_(QuotaLedger::from_spec(spec)),
      compute_vms_(model.pools.size()),
      stopped_vms_(model.pools.size()),
      disk_gib_(model.pools.size(), 128),
      acc_compute_(model.pools.size()),
      acc_disk_(model.pools.size()),
      acc_disk_stopped_(model.pools.size()),
      acc_running_ms_(model.pools.size()),
      acc_stopped_ms_(model.pools.size()),
      quota_in_use_(model.pools.size()),
      rng_(options_.seed) {
  for (const auto& p : model.pools) {
    if (const Pool* sp = spec.find_pool(p.name)) disk_gib_[p.index] = sp->os_disk.size_gib;
  }
  std::set<std::string> regions;
  for (const auto& p : model.pools) regions.insert(to_lower(p.region));
  auto prefix = [&](const std::string& region) {
    return regions.size() > 1 ? to_lower(region) + "/" : std::string();
  };
  for (const auto& p : model.pools) {
    family_key_.push_back(prefix(p.region) + (p.spot ? "lowPriority" : p.quota_family));
    regional_key_.push_back(p.spot ? "" : prefix(p.region) + "regional");
  }
  for (const auto& line : quota_.lines()) {
    if (!line.limit) continue;
    std::string name = line.kind == "spot" ? "lowPriority" : "regional";
    if (line.kind == "family") {
      name = line.name;
      for (const auto& p : model.pools) {
        if (iequals(p.region, line.region) && iequals(p.quota_family, line.name))
          name = p.quota_family;
      }
    }
    limits_[prefix(line.region) + name] = *line.limit;
  }
}

void SimulatedRegion::count(const Vm& vm, int delta) {
  bool compute = vm.state == VmState::kCreating || vm.state == VmState::kStarting ||
                 vm.state == VmState::kRunning;
  (compute ? compute_vms_ : stopped_vms_)[vm.pool] += delta;
}

void SimulatedRegion::accrue(TimePoint to) {
  if (!started_) {
    last_ = to;
    started_ = true;
    return;
  }
  if (to <= last_) return;
  int64_t ms = duration_cast<milliseconds>(to - last_).count();
  for (const auto& p : model_.pools) {
    int64_t on = compute_vms_[p.index], off = stopped_vms_[p.index];
    if (on == 0 && off == 0) continue;
    size_t i = static_cast<size_t>(p.index);
    // A VM is billed for compute from allocation (creating/starting), before it is ready.
    acc_compute_[i] += static_cast<Int128>(p.price.usd_per_hour.micros()) * ms * on;
    acc_running_ms_[i] += ms * on;
    acc_stopped_ms_[i] += ms * off;
    // OS disks of every existing VM: size × price per GiB-month, spread over the billing month
    // (accumulated × hours_per_month; divided once when folded).
    Int128 per_vm =
        static_cast<Int128>(options_.disk_usd_per_gib_month.micros()) * disk_gib_[i] * ms;
    acc_disk_[i] += per_vm * (on + off);
    acc_disk_stopped_[i] += per_vm * off;
  }
  last_ = to;
}

std::vector<NodeId> SimulatedRegion::advance_to(TimePoint now) {
  TimePoint from = started_ ? last_ : now;
  // Evictions (approximated at the interval's end; intervals are seconds long).
  std::vector<NodeId> evicted;
  if (options_.spot_evictions_per_node_hour > 0 && now > from) {
    double hours = duration_cast<milliseconds>(now - from).count() / 3'600'000.0;
    double p = 1.0 - std::exp(-options_.spot_evictions_per_node_hour * hours);
    std::uniform_real_distribution<double> u(0.0, 1.0);
    for (const auto& [id, vm] : vms_) {
      if (model_.pools[vm.pool].spot && vm.state == VmState::kRunning && u(rng_) < p)
        evicted.push_back(id);
    }
  }
  accrue(now);
  for (NodeId id : evicted) {
    const Vm& vm = vms_.at(id);
    const PoolModel& p = model_.pools[vm.pool];
    quota_.release(p.region, p.quota_family, p.spot, p.node.vcpus);
    quota_in_use_[vm.pool] -= p.node.vcpus;
    count(vm, -1);
    vms_.erase(id);
    ++evictions_;
  }
  if (now >= next_ready_) {
    next_ready_ = TimePoint::max();
    for (auto& [id, vm] : vms_) {
      if (vm.state == VmState::kCreating || vm.state == VmState::kStarting) {
        if (vm.ready_at <= now)
          vm.state = VmState::kRunning;
        else
          next_ready_ = std::min(next_ready_, vm.ready_at);
      }
    }
  }
  return evicted;
}

void SimulatedRegion::fold() const {
  folded_ = RegionBill{};
  for (const auto& p : model_.pools) {
    size_t i = static_cast<size_t>(p.index);
    folded_.compute_by_pool[p.name] = acc_compute_[i];
    folded_.disk_by_pool[p.name] = acc_disk_[i] / options_.hours_per_month;
    folded_.disk_stopped_by_pool[p.name] = acc_disk_stopped_[i] / options_.hours_per_month;
    folded_.running_ms_by_pool[p.name] = acc_running_ms_[i];
    folded_.stopped_ms_by_pool[p.name] = acc_stopped_ms_[i];
  }
}

void SimulatedRegion::note_peak() {
  for (const auto& [key, vcpus] : quota_vcpus_now()) peak_[key] = std::max(peak_[key], vcpus);
}

std::map<std::string, int64_t> SimulatedRegion::quota_vcpus_now() const {
  std::map<std::string, int64_t> out;
  for (const auto& p : model_.pools) {
    size_t i = static_cast<size_t>(p.index);
    out[family_key_[i]] += quota_in_use_[i];
    if (!regional_key_[i].empty()) out[regional_key_[i]] += quota_in_use_[i];
  }
  return out;
}

std::map<std::string, std::map<std::string, int64_t>> SimulatedRegion::vms_by_pool_and_state()
    const {
  std::map<std::string, std::map<std::string, int64_t>> out;
  for (const auto& [id, vm] : vms_) out[model_.pools[vm.pool].name][vm_state_name(vm.state)]++;
  return out;
}

Result<Duration> SimulatedRegion::create_vm(const PoolModel& pool, NodeId id, TimePoint now) {
  accrue(now);
  auto q = quota_.reserve(pool.region, pool.quota_family, pool.spot, pool.node.vcpus);
  if (!q) {
    return make_error(q.error().code,
                      "QuotaExceeded: Operation could not be completed as it results in exceeding "
                      "approved quota. " +
                          q.error().message);
  }
  std::uniform_real_distribution<double> u(0.0, 1.0);
  if (options_.allocation_failure_rate > 0 && u(rng_) < options_.allocation_failure_rate) {
    quota_.release(pool.region, pool.quota_family, pool.spot, pool.node.vcpus);
    ++allocation_failures_;
    return make_error(
        ErrorCode::kUnavailable,
        fmt::format("AllocationFailed: the requested VM size {} is not available in {} now",
                    pool.sku, pool.region));
  }
  Vm vm{pool.index, VmState::kCreating, now + pool.create_latency};
  vms_[id] = vm;
  count(vm, +1);
  quota_in_use_[pool.index] += pool.node.vcpus;
  next_ready_ = std::min(next_ready_, vm.ready_at);
  note_peak();
  return pool.create_latency;
}

void SimulatedRegion::adopt_vm(const PoolModel& pool, NodeId id, TimePoint now) {
  accrue(now);
  if (!quota_.reserve(pool.region, pool.quota_family, pool.spot, pool.node.vcpus)) return;
  Vm vm{pool.index, VmState::kRunning, now};
  vms_[id] = vm;
  count(vm, +1);
  quota_in_use_[pool.index] += pool.node.vcpus;
  note_peak();
}

Result<Duration> SimulatedRegion::start_vm(const PoolModel& pool, NodeId id, bool hibernated,
                                           TimePoint now) {
  accrue(now);
  auto it = vms_.find(id);
  if (it == vms_.end())
    return make_error(ErrorCode::kNotFound, fmt::format("ResourceNotFound: VM {}", id));
  std::uniform_real_distribution<double> u(0.0, 1.0);
  if (options_.allocation_failure_rate > 0 && u(rng_) < options_.allocation_failure_rate) {
    ++allocation_failures_;
    return make_error(ErrorCode::kUnavailable,
                      fmt::format("AllocationFailed: no capacity to {} {} in {}",
                                  hibernated ? "resume" : "start", pool.sku, pool.region));
  }
  count(it->second, -1);
  it->second.state = VmState::kStarting;
  it->second.ready_at = now + pool.start_latency;
  count(it->second, +1);
  next_ready_ = std::min(next_ready_, it->second.ready_at);
  (void)hibernated;
  return pool.start_latency;
}

void SimulatedRegion::stop_vm(const PoolModel&, NodeId id, bool hibernate, TimePoint now) {
  accrue(now);
  auto it = vms_.find(id);
  if (it == vms_.end()) return;
  count(it->second, -1);
  it->second.state = hibernate ? VmState::kHibernated : VmState::kDeallocated;
  count(it->second, +1);
}

void SimulatedRegion::delete_vm(const PoolModel& pool, NodeId id, TimePoint now) {
  accrue(now);
  auto it = vms_.find(id);
  if (it == vms_.end()) return;
  count(it->second, -1);
  quota_in_use_[pool.index] -= pool.node.vcpus;
  vms_.erase(it);
  quota_.release(pool.region, pool.quota_family, pool.spot, pool.node.vcpus);
}

}  // namespace codefleet
