// A simulated Azure region implementing the cloud port: VM states (creating, running,
// starting, deallocated, hibernated, deleted) with per-size latencies, quota enforced as
// Azure does it (deallocated and hibernated VMs keep their cores; spot VMs count against
// the low-priority total), configurable allocation failures and spot evictions, and
// billing by state: running (and creating/starting) = compute + OS disk; deallocated or
// hibernated = OS disk only; deleted = nothing.
//
//   SimulatedRegion region(model, spec, {.seed = 7});
//   scheduler.set_cloud(&region);
//   region.advance_to(now);            // accrues billing up to `now`
//   region.bill().total()              // exact, in micro-USD
#pragma once

#include <map>
#include <random>
#include <string>
#include <vector>

#include "core/money.h"
#include "scheduling/cloud_port.h"
#include "scheduling/quota_ledger.h"

namespace codefleet {

struct RegionOptions {
  double allocation_failure_rate =
      0.0;  // probability that a create or start fails (AllocationFailed)
  double spot_evictions_per_node_hour = 0.0;  // Poisson rate per running spot VM
  // Managed OS disk price, per GiB-month. Default: a Premium SSD P10 (128 GiB) at $19.71 a
  // month; the catalog has no disk prices, so `--disk-usd-per-gib-month` overrides it.
  Money disk_usd_per_gib_month = Money::from_micros(153'984);
  std::string disk_price_source =
      "Premium SSD P10 128 GiB at $19.71/month (TechTarget, 'How does Azure Premium Storage "
      "billing work?')";
  int64_t hours_per_month = 730;
  uint64_t seed = 1;
};

enum class VmState { kCreating, kRunning, kStarting, kDeallocated, kHibernated };

struct RegionBill {
  // Exact accumulators: price micro-USD per hour × milliseconds.
  std::map<std::string, Int128> compute_by_pool;
  std::map<std::string, Int128> disk_by_pool;          // all disks (running and stopped VMs)
  std::map<std::string, Int128> disk_stopped_by_pool;  // the part while deallocated or hibernated
  std::map<std::string, int64_t> running_ms_by_pool;   // compute-billed time (node-hours)
  std::map<std::string, int64_t> stopped_ms_by_pool;
  Money compute(const std::string& pool) const;
  Money disk(const std::string& pool) const;
  Money disk_stopped(const std::string& pool) const;
  Money total() const;
};

class SimulatedRegion final : public CloudPort {
 public:
  SimulatedRegion(const FleetModel& model, const Spec& spec, RegionOptions options);

  Result<Duration> create_vm(const PoolModel& pool, NodeId id, TimePoint now) override;
  Result<Duration> start_vm(const PoolModel& pool, NodeId id, bool hibernated,
                            TimePoint now) override;
  void stop_vm(const PoolModel& pool, NodeId id, bool hibernate, TimePoint now) override;
  void delete_vm(const PoolModel& pool, NodeId id, TimePoint now) override;
  // A VM that already runs: billed from `now`, holding its quota. Not taken over when the
  // quota has no room for it (the scheduler, which reserves first, does not adopt it then).
  void adopt_vm(const PoolModel& pool, NodeId id, TimePoint now) override;

  // Accrues billing up to `now` and makes provisioned VMs running. Returns the spot VMs
  // evicted in the interval: they are gone (the caller tells the scheduler).
  std::vector<NodeId> advance_to(TimePoint now);

  const RegionBill& bill() const {
    fold();
    return folded_;
  }
  // Highest cores in use seen per quota family (spot VMs under "lowPriority").
  // Quota use and limits keyed alike: the family name (as the catalog spells it),
  // "lowPriority" for spot VMs and "regional" for the regional total — each prefixed with
  // "region/" when the pools span several regions.
  const std::map<std::string, int64_t>& peak_quota_vcpus() const { return peak_; }
  const std::map<std::string, int64_t>& quota_limits() const { return limits_; }
  int64_t disk_gib(int pool) const { return disk_gib_[static_cast<size_t>(pool)]; }
  std::map<std::string, int64_t> quota_vcpus_now() const;
  int64_t allocation_failures() const { return allocation_failures_; }
  int64_t evictions() const { return evictions_; }
  size_t vm_count() const { return vms_.size(); }
  std::map<std::string, std::map<std::string, int64_t>> vms_by_pool_and_state() const;

 private:
  struct Vm {
    int pool;
    VmState state;
    TimePoint ready_at;
  };
  void accrue(TimePoint to);
  void note_peak();
  void count(const Vm& vm, int delta);

  const FleetModel& model_;
  RegionOptions options_;
  QuotaLedger quota_;
  std::map<NodeId, Vm> vms_;
  // Per pool: VMs billed for compute (creating, starting, running) and stopped ones, so
  // billing accrues in O(pools) per event rather than O(VMs).
  std::vector<int64_t> compute_vms_, stopped_vms_, disk_gib_;
  // Exact accumulators per pool index, folded into `bill_` by name when read.
  std::vector<Int128> acc_compute_, acc_disk_, acc_disk_stopped_;
  std::vector<int64_t> acc_running_ms_, acc_stopped_ms_;
  mutable RegionBill folded_;
  void fold() const;
  std::vector<int64_t> quota_in_use_;  // per pool, cores of existing VMs
  std::mt19937_64 rng_;
  TimePoint next_ready_ = TimePoint::max();
  TimePoint last_{};
  bool started_ = false;
  std::map<std::string, int64_t> peak_, limits_;
  std::vector<std::string> family_key_, regional_key_;  // per pool; regional "" for spot
  int64_t allocation_failures_ = 0;
  int64_t evictions_ = 0;
};

const char* vm_state_name(VmState s);

}  // namespace codefleet
