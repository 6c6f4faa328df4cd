// The router: for one task, every target that could run it — each pool (size fits,
// class allowed, environment matches, quota can ever hold a node) and each AI Foundry
// deployment or self-hosted endpoint (LLM classes) — with its estimated cost and wait,
// the chosen one by the class's policy (default: the cheapest that meets the deadline),
// and why each other one lost.
//
//   EmptyFleetView view(model);            // nothing running yet, no quota in use
//   Decision d = route(model, task, view, clock.now());
//   d.outcome == Outcome::kPlaced; d.target.name == "h100-train";
#pragma once

#include <string>
#include <vector>

#include "core/money.h"
#include "core/time.h"
#include "routing/fleet_model.h"
#include "workload/task.h"

namespace codefleet {

enum class Outcome { kPlaced, kQueued, kInfeasible };
const char* outcome_name(Outcome o);

struct Target {
  enum class Kind { kNone, kPool, kFoundry, kSelfHosted };
  Kind kind = Kind::kNone;
  int index = -1;
  std::string name;
  std::string sku;         // pools and self-hosted endpoints (their pool's size)
  std::string pool;        // self-hosted: the pool it runs on
  std::string deployment;  // Foundry
};
const char* target_kind_name(Target::Kind k);

struct Alternative {
  Target target;
  Money cost;
  Duration wait{0};
  bool feasible = false;   // could ever run there
  bool available = false;  // can start now (after provisioning), not waiting for capacity
  bool meets_deadline = true;
  bool estimated = false;        // cost uses a fallback-region price
  std::string rejected_because;  // empty for the chosen target
};

struct Decision {
  Outcome outcome = Outcome::kInfeasible;
  Target target;
  Money cost;
  Duration wait{0};
  bool estimated = false;
  std::string reason;
  std::vector<Alternative> alternatives;  // every other target, ranked
};

// What the router needs to know about the live fleet. The daemon and the simulator
// implement it over their state; `EmptyFleetView` is a fleet with nothing running.
class FleetView {
 public:
  struct PoolWait {
    bool can_place = false;  // fits on a node now, or a node can be created/started within quota
    Duration wait{0};        // until it could start (provisioning), or estimated queueing time
    std::string
        why_waiting;  // when !can_place: "quota StandardNCadsH100v5Family full (1440/1440 vCPUs)"
  };
  virtual ~FleetView() = default;
  virtual PoolWait pool_wait(const PoolModel& pool, const Task& task, TimePoint now) const = 0;
  // Time until `tokens` more fit the deployment's TPM and one more request its RPM; 0 = now.
  virtual Duration rate_wait(const DeploymentModel&, int64_t /*tokens*/, TimePoint /*now*/) const {
    return Duration{0};
  }
  // A self-hosted endpoint's load: tokens admitted and not yet served (queued or in flight)
  // and the nodes serving it. The router turns it into a queue wait at `tokens_per_second`
  // per node; an endpoint whose queue is longer than the class's expected call duration is
  // saturated, and the next target takes the call.
  struct EndpointLoad {
    int64_t tokens_in_flight = 0;
    int64_t nodes = 1;
  };
  virtual EndpointLoad endpoint_load(const SelfHostedModel&, TimePoint /*now*/) const { return {}; }
};

class EmptyFleetView final : public FleetView {
 public:
  explicit EmptyFleetView(const FleetModel& model) : model_(model) {}
  PoolWait pool_wait(const PoolModel& pool, const Task& task, TimePoint now) const override;

 private:
  const FleetModel& model_;
};

// A pool that could ever run `task`, with the cost of running it there.
struct PoolCandidate {
  int pool = -1;
  Money cost;           // price × duration × the task's dominant share of a node
  int prefer_rank = 0;  // position in the class's `prefer` list; large when absent
};

// Statically feasible pools for `task`, best first (prefer rank, then cost, then name):
// the ranking the scheduler walks. Rejections go to `rejected` when given.
std::vector<PoolCandidate> rank_pools(const FleetModel& model, const Task& task,
                                      std::vector<Alternative>* rejected = nullptr);
// The task's dominant share of one node, in parts per million (1'000'000 = a whole node).
int64_t dominant_share_ppm(const Resources& need, const Resources& node);
// The share of a node one such task really takes when packed: 1 / how many fit whole
// (a task asking for 200 of 256 GiB takes the node, not 78% of it). In ppm, ≥ the
// dominant share; 1,000,000 when none fits.
int64_t packed_share_ppm(const Resources& need, const Resources& node);
// The largest cores one node of `pool` may take from its quotas: the family, regional and spot
// limits declared in the spec (nullopt = no limit declared).
std::optional<int64_t> quota_limit_for_node(const FleetModel& model, const PoolModel& pool,
                                            std::string* which);

Decision route(const FleetModel& model, const Task& task, const FleetView& view, TimePoint now);

}  // namespace codefleet
