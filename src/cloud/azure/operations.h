// Typed Azure operations on the ARM client: compute quota usage, VM power and hibernation
// state and actions, AKS agent pools and cluster stop/start, Cost Management month-to-date
// cost, and Consumption budgets. API versions are pinned here, in one place.
//
//   auto usage = compute_usages(arm, "0000-…", "westeurope");   // quota per family
//   auto done = vm_action(arm, vm_id, VmAction::kHibernate);     // deallocate?hibernate=true
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "cloud/azure/arm.h"
#include "core/money.h"

namespace codefleet {

inline constexpr const char* kComputeApi = "2024-07-01";
inline constexpr const char* kAksApi = "2024-09-01";
inline constexpr const char* kCostApi = "2023-11-01";
inline constexpr const char* kBudgetApi = "2023-05-01";

struct QuotaUsage {
  std::string name;  // e.g. "standardNCadsH100v5Family", "cores", "lowPriorityCores"
  std::string display;
  int64_t used = 0, limit = 0;
};
Result<std::vector<QuotaUsage>> compute_usages(ArmClient& arm, const std::string& subscription,
                                               const std::string& region);

struct VmStatus {
  std::string power;        // "running", "deallocated", "stopped", "starting", ... ("" = unknown)
  std::string hibernation;  // "hibernated", ... ("" when the VM reports none)
};
Result<VmStatus> vm_status(ArmClient& arm, const std::string& vm_id);

enum class VmAction { kHibernate, kDeallocate, kStart };
const char* vm_action_name(VmAction a);
Result<void> vm_action(ArmClient& arm, const std::string& vm_id, VmAction action);

// What to change on an AKS agent pool; unset fields keep their value.
struct AgentPoolChange {
  std::optional<int64_t> count;
  std::optional<bool> autoscale;  // enableAutoScaling
  std::optional<int64_t> min_count, max_count;
  std::optional<std::string> scale_down_mode;  // "Delete" | "Deallocate"
};
// GET the pool, apply the change, PUT it back (idempotent) and wait for it. A count outside
// an autoscaling pool's [min, max], min > max, or an unknown scale-down mode is refused
// (kInfeasible / kInvalidInput) before anything is sent.
Result<std::string> update_agent_pool(ArmClient& arm, const std::string& cluster_id,
                                      const std::string& pool, const AgentPoolChange& change);
// The agent pool's node count (properties.count).
Result<int64_t> agent_pool_count(ArmClient& arm, const std::string& cluster_id,
                                 const std::string& pool);
// The node count alone.
Result<std::string> scale_agent_pool(ArmClient& arm, const std::string& cluster_id,
                                     const std::string& pool, int64_t count);
Result<void> cluster_power(ArmClient& arm, const std::string& cluster_id, bool start);

struct CostRow {
  std::string group;  // resource group (or tag value)
  Money cost;
  std::string currency;
};
// Month-to-date actual cost under `scope` ("/subscriptions/S"), grouped by resource group.
Result<std::vector<CostRow>> month_to_date_cost(ArmClient& arm, const std::string& scope);

// A Consumption budget (monthly, with e-mail notifications at the thresholds).
Result<std::string> put_budget(ArmClient& arm, const std::string& scope, const std::string& name,
                               Money amount, const std::vector<int64_t>& thresholds_pct,
                               const std::vector<std::string>& emails,
                               const std::string& start_date);
Result<std::string> get_budget(ArmClient& arm, const std::string& scope, const std::string& name);

}  // namespace codefleet
