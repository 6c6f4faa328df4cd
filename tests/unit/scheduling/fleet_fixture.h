// A small fleet for scheduler tests: a GPU pool whose family quota holds 5 nodes, a CPU
// pool, and a spot pool, in eastus (priced in the default catalog).
#pragma once

#include <gtest/gtest.h>

#include "scheduling/scheduler.h"

namespace codefleet::testing_support {

inline const char* kSchedSpec = R"(version: 1
name: sched-test
regions: [eastus]
quotas:
  - region: eastus
    total_vcpus: 400
    spot_vcpus: 24
    families: {StandardNCadsH100v5Family: 200, standardDSv5Family: 80}
environments:
  - name: prod
    region: eastus
    pools:
      - {name: gpu, sku: Standard_NC40ads_H100_v5, max_nodes: 6, classes: [train, infer]}
      - {name: cpu, sku: Standard_D4s_v5, max_nodes: 20, classes: [web, batch]}
      - {name: spot, sku: Standard_D8s_v5, spot: true, max_nodes: 5, classes: [batch]}
  - name: dev
    region: eastus
    pools:
      - {name: dev-gpu, sku: Standard_NC40ads_H100_v5, max_nodes: 5, classes: [train]}
workload_classes:
  - {name: train, resources: {vcpus: 40, memory_gib: 320, gpus: 1, gpu_memory_gib: 94}, duration: 2h, priority: 50}
  - {name: infer, resources: {vcpus: 8, memory_gib: 64, gpus: 1, gpu_memory_gib: 40}, duration: 1h, priority: 90}
  - {name: web, resources: {vcpus: 1, memory_gib: 2}, duration: 10m, priority: 70}
  - {name: batch, resources: {vcpus: 2, memory_gib: 4}, duration: 30m, priority: 10, preemptible: true, deferrable: true}
off_peak:
  time_zone: UTC
  windows: [{days: [daily], start: "20:00", end: "06:00"}]
)";

struct SchedFleet {
  ParsedSpec parsed;
  Catalog catalog;
  FleetModel model;
};

inline std::unique_ptr<SchedFleet> sched_fleet(const std::string& yaml = kSchedSpec) {
  auto parsed = parse_spec(yaml, "sched.yaml");
  EXPECT_TRUE(parsed) << (parsed ? "" : parsed.error().describe());
  auto f = std::make_unique<SchedFleet>(SchedFleet{*parsed, *Catalog::load_default(), {}});
  auto model = build_fleet_model(f->parsed.spec, f->catalog, {});
  EXPECT_TRUE(model) << (model ? "" : model.error().message);
  f->model = *model;
  f->model.spec = &f->parsed.spec;
  return f;
}

// The test spec with a different H100 family quota.
inline std::string sched_spec_with_h100_quota(int64_t vcpus) {
  std::string yaml = kSchedSpec;
  yaml.replace(yaml.find("StandardNCadsH100v5Family: 200"), 30,
               "StandardNCadsH100v5Family: " + std::to_string(vcpus));
  return yaml;
}

inline Task make_task(const std::string& cls, int64_t priority, const std::string& env = "",
                      bool preemptible = false, const std::string& tenant = "default") {
  Task t;
  t.class_name = cls;
  t.environment = env;
  t.tenant = tenant;
  t.priority = priority;
  t.preemptible = preemptible;
  t.duration = std::chrono::hours(1);
  if (cls == "train") t.resources = {40, 320 * 1024, 1000, 94 * 1024};
  if (cls == "infer") t.resources = {8, 64 * 1024, 1000, 40 * 1024};
  if (cls == "web") t.resources = {1, 2 * 1024, 0, 0};
  if (cls == "batch") t.resources = {2, 4 * 1024, 0, 0};
  return t;
}

}  // namespace codefleet::testing_support
