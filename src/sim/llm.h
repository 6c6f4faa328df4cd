// LLM calls of one `kind: llm` class replayed three ways, through the router the gateway
// uses, in simulated time:
//
//   foundry      every call to the Foundry deployments serving the class, throttled by
//                their TPM/RPM token buckets (a call waits for its bucket, first come
//                first served); cost = tokens × the deployment's prices
//   self-hosted  every call to the self-hosted endpoints serving the class; the endpoint's
//                nodes follow demand (a node added when the queue would outlast the class's
//                call duration, after the pool's create or start latency; a node busy less
//                than half the time for 10 minutes removed; within min_nodes..max_nodes);
//                cost = node-hours × the pool's hourly price
//   hybrid       both, routed per call by `route()`: the endpoints held at a base size and
//                reporting their live load, so a saturated endpoint overflows to Foundry;
//                cost = node-hours + Foundry tokens
//
//   std::vector<LlmCall> calls = llm_calls_of(workload);
//   LlmReplay r = replay_llm(model, "code-completion", calls, {});
//   r.scenarios[0].cost, r.scenarios[2].calls_by_target["foundry-large"], r.cheapest
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "core/money.h"
#include "core/time.h"
#include "routing/fleet_model.h"
#include "workload/traces.h"

namespace codefleet {

struct LlmCall {
  Duration at{0};  // since the start of the replay
  int64_t prompt = 0;
  int64_t completion = 0;
};

// The calls of a workload: every arrival with token counts, in arrival order.
std::vector<LlmCall> llm_calls_of(const Workload& workload);

struct LlmSimOptions {
  TimePoint start = *parse_rfc3339("2026-01-05T00:00:00Z");
  // The period the replay covers: nodes are billed at least until its end (and until the
  // last self-hosted call has been served). 0 = up to the last arrival.
  Duration period{0};
  // The self-hosted pool's autoscaler, as the cluster autoscaler's defaults: it scans every
  // `scan_every`; a ready node busy less than `unneeded_below_pct` percent of the last scan
  // interval is unneeded (scale-down-utilization-threshold), and one unneeded for
  // `scale_down_after` with no call on it is removed (scale-down-unneeded-time).
  Duration scan_every{std::chrono::seconds(10)};
  int64_t unneeded_below_pct = 50;
  Duration scale_down_after{std::chrono::minutes(10)};
  // Nodes of each endpoint in the hybrid scenario; 0 = sized to the median minute's demand
  // (see `hybrid_base_nodes`).
  int64_t hybrid_nodes = 0;
};

struct LlmScenario {
  std::string name;  // foundry | self-hosted | hybrid
  Money cost;
  std::map<std::string, Money> cost_by_target;     // deployment or endpoint name
  std::map<std::string, int64_t> calls_by_target;  // deployment or endpoint name
  int64_t node_ms = 0;                             // self-hosted nodes, requested to removed
  int64_t peak_nodes = 0;
  int64_t wait_p50_ms = 0, wait_p95_ms = 0, wait_p99_ms = 0;  // before the call starts
  int64_t served = 0, unserved = 0;                           // served + unserved = calls
  double gpu_node_hours() const { return static_cast<double>(node_ms) / 3'600'000.0; }
};

struct LlmReplay {
  std::string class_name;
  int64_t calls = 0;
  int64_t prompt_tokens = 0, completion_tokens = 0;
  std::vector<LlmScenario> scenarios;  // foundry, self-hosted, hybrid
  std::string cheapest;                // among scenarios that served every call; "" = none did
};

// The first `kind: llm` class of the spec served by at least one Foundry deployment and one
// self-hosted endpoint with a throughput (`tokens_per_second`) on a pool that can have nodes.
std::optional<std::string> default_llm_route_class(const FleetModel& model);

// Nodes per endpoint for the hybrid scenario: the median minute's tokens (the minutes of the
// replayed period) over one minute of the endpoints' combined throughput, rounded up, at
// least 1 (0 when no endpoint serves the class). Each endpoint keeps it within
// [max(1, min_nodes), max_nodes] of its pool.
int64_t hybrid_base_nodes(const FleetModel& model, const std::string& class_name,
                          const std::vector<LlmCall>& calls, Duration period);

// `calls` in arrival order. Pure and deterministic: same inputs, same result.
LlmReplay replay_llm(const FleetModel& model, const std::string& class_name,
                     const std::vector<LlmCall>& calls, const LlmSimOptions& options);

}  // namespace codefleet
