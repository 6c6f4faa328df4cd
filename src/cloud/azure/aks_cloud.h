// The cloud port on a real AKS cluster: the scheduler's node decisions become agent pool
// node counts. Each spec pool maps to an agent pool; creating or starting a node raises
// its pool's desired count, stopping (AKS `scaleDownMode: Deallocate` keeps the VM,
// deallocated) or deleting one lowers it. A worker thread applies the counts with
// idempotent PUTs (`scale_agent_pool`), at most once per pool per second and never
// blocking the reconcile loop. When Azure refuses a scale-up (QuotaExceeded,
// AllocationFailed…), the nodes it would have held are reported lost (`take_lost`), so
// their tasks go back to pending, and the failure is counted for the alerts.
//
//   AksCloud aks(arm, {.cluster_id = "/subscriptions/…/managedClusters/aks",
//                      .agent_pools = {{"h100-infer", "h100infer"}}});
//   ControllerOptions{.mirror = &aks};  // the daemon sends every node decision here too
#pragma once

#include <condition_variable>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "cloud/azure/arm.h"
#include "scheduling/cloud_port.h"

namespace codefleet {

struct AksCloudOptions {
  std::string cluster_id;
  std::map<std::string, std::string> agent_pools;  // spec pool → AKS agent pool
  std::chrono::milliseconds apply_every{1000};
};

class AksCloud final : public CloudPort {
 public:
  AksCloud(ArmClient& arm, AksCloudOptions options);
  ~AksCloud() override;

  // kInvalidInput naming the spec pools without an agent pool, a mapping for a pool the
  // spec lacks, or an agent pool mapped twice.
  static Result<void> check(const FleetModel& model, const AksCloudOptions& options);

  Result<Duration> create_vm(const PoolModel& pool, NodeId id, TimePoint now) override;
  Result<Duration> start_vm(const PoolModel& pool, NodeId id, bool hibernated,
                            TimePoint now) override;
  void stop_vm(const PoolModel& pool, NodeId id, bool hibernate, TimePoint now) override;
  void delete_vm(const PoolModel& pool, NodeId id, TimePoint now) override;

  // Each spec pool's node count as Azure holds it now (GET on its agent pool), taken as
  // what is applied: a daemon taking over adopts those nodes rather than scale them away.
  // No count is sent from the first call until adoption_done(); nothing changes when a
  // pool cannot be read.
  Result<std::map<std::string, int64_t>> existing_nodes() override;
  void adopt_vm(const PoolModel& pool, NodeId id, TimePoint now) override;
  void adoption_done() override;
  // Nodes Azure would not provide (their scale-up failed), once each.
  std::vector<NodeId> take_lost() override;
  int64_t failures() const override;
  std::string last_error() const;
  // What was last applied per agent pool (tests, /v1/pools).
  std::map<std::string, int64_t> applied() const;

 private:
  // `adopted`: a node Azure already has — not one a pending PUT adds.
  void set_active(const PoolModel& pool, NodeId id, bool active, bool adopted = false);
  void worker();

  ArmClient& arm_;
  AksCloudOptions options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool stop_ = false;
  bool adopting_ = false;    // existing_nodes() .. adoption_done(): no PUT starts
  uint64_t generation_ = 0;  // bumped by each takeover
  std::map<std::string, std::set<NodeId>> active_;    // agent pool → nodes that should run
  std::map<std::string, int64_t> applied_;            // agent pool → count Azure holds
  std::map<std::string, std::vector<NodeId>> added_;  // added since the last success
  std::vector<NodeId> lost_;
  int64_t failures_ = 0;
  std::string last_error_;
  std::thread thread_;
};

}  // namespace codefleet
