// The fleet as the router and scheduler see it: the spec's pools, Foundry deployments
// and self-hosted endpoints joined with the catalog's sizes and prices, resolved once.
//
//   auto model = build_fleet_model(spec, catalog, {.price_fallback_region = "eastus"});
//   const PoolModel& h100 = model->pools[0];   // h100.usd_per_hour, h100.node, ...
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "core/money.h"
#include "core/resources.h"
#include "core/time.h"
#include "core/timezone.h"
#include "spec/spec.h"

namespace codefleet {

// How long Azure takes to bring a node up, by what it starts from. Defaults are
// estimates for planning (docs/ARCHITECTURE.md), not guarantees: Azure gives none,
// and a hibernated or deallocated VM may find no capacity on resume.
struct Latencies {
  Duration create_gpu{std::chrono::minutes(8)};
  Duration create_cpu{std::chrono::minutes(3)};
  Duration start_deallocated_gpu{std::chrono::minutes(4)};
  Duration start_deallocated_cpu{std::chrono::seconds(90)};
  Duration resume_hibernated{std::chrono::seconds(60)};
};

struct OffPeak {
  Schedule schedule;
  TimeZone zone = TimeZone::utc();
  bool contains(TimePoint t) const;
  // The first instant at or after `t` inside the window (t itself when inside).
  TimePoint next_start(TimePoint t) const;

 private:
  // Last answer: every t in [query, answer) outside the window has the same next start.
  mutable std::optional<std::pair<TimePoint, TimePoint>> memo_;
};

struct PoolModel {
  int index = 0;
  std::string name, environment, region, sku, series, quota_family;
  Resources node;  // one node's capacity
  int64_t min_nodes = 0, max_nodes = 0;
  bool spot = false;
  bool autoscaled = false;  // scaler: cluster-autoscaler — AKS sets its count, not CodeFleet
  std::string gpu_sharing;  // "" | time-slicing | mps | mig (the spec's pool gpu_sharing)
  IdleAction idle_action = IdleAction::kNone;
  std::vector<std::string> classes;  // empty = any compute class
  Price price;                       // payg (or spot for spot pools), maybe estimated
  Duration create_latency{0}, start_latency{0};
  bool can_hibernate = false;
  std::optional<OffPeak> schedule;  // the pool's `schedule`, its time zone resolved
  bool serves(const std::string& class_name) const;
};

struct DeploymentModel {
  int index = 0;
  std::string name, deployment, model, endpoint;
  Money usd_per_1m_input, usd_per_1m_output;
  int64_t tpm = 0, rpm = 0;
  std::vector<std::string> classes;
};

struct SelfHostedModel {
  int index = 0;
  std::string name, endpoint, model;
  int pool = -1;
  int64_t tokens_per_second = 0;
  std::vector<std::string> classes;
};

struct FleetModel {
  std::vector<PoolModel> pools;
  std::vector<DeploymentModel> deployments;
  std::vector<SelfHostedModel> self_hosted;
  std::optional<OffPeak> off_peak;
  const Spec* spec = nullptr;
};

struct FleetModelOptions {
  std::optional<std::string> price_fallback_region;
  Latencies latencies;
  // Resolves IANA names the core does not build in (the CLI reads /usr/share/zoneinfo).
  std::function<Result<TimeZone>(const std::string&)> resolve_time_zone;
};

// Fails (kNotFound) when a pool's size or price is missing, naming it and how to import it.
Result<FleetModel> build_fleet_model(const Spec& spec, const Catalog& catalog,
                                     const FleetModelOptions& options);

}  // namespace codefleet
