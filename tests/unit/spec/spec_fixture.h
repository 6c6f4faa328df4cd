// A small spec that validates clean against the default catalog (US prices), and a
// fluent builder that edits it, so each rule test states only what it changes.
#pragma once

#include <string>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "spec/validate.h"

namespace codefleet::testing_support {

inline const char* kBaseSpec = R"(version: 1
name: test-fleet
regions: [eastus]
pricing:
  assumptions:
    - {series: NCads_H100_v5, usd_per_vcpu_hour: "0.18"}
quotas:
  - region: eastus
    total_vcpus: 1000
    spot_vcpus: 100
    families: {StandardNCadsH100v5Family: 80, standardDSv5Family: 200}
tags:
  required: [environment]
  defaults: {environment: test}
network:
  vnet_cidr: 10.0.0.0/16
  subnets:
    - {name: a, cidr: 10.0.0.0/24}
    - {name: b, cidr: 10.0.1.0/24}
environments:
  - name: prod
    region: eastus
    pools:
      - name: gpu
        sku: Standard_NC40ads_H100_v5
        max_nodes: 2
        idle: {action: deallocate, after: 30m}
        classes: [train]
      - name: cpu
        sku: Standard_D4s_v5
        min_nodes: 1
        max_nodes: 10
        idle: {action: hibernate, after: 30m}
        classes: [web]
workload_classes:
  - {name: train, resources: {vcpus: 8, memory_gib: 64, gpus: 1, gpu_memory_gib: 80}}
  - {name: web, resources: {vcpus: 2, memory_gib: 4}}
budgets:
  - {name: monthly, amount_usd: "5000"}
)";

class SpecBuilder {
 public:
  SpecBuilder() : text_(kBaseSpec) {}
  // Replaces the first occurrence of `from` (which must exist) with `to`.
  SpecBuilder& replace(const std::string& from, const std::string& to) {
    size_t pos = text_.find(from);
    EXPECT_NE(pos, std::string::npos) << "base spec lacks: " << from;
    if (pos != std::string::npos) text_.replace(pos, from.size(), to);
    return *this;
  }
  SpecBuilder& append(const std::string& more) {
    text_ += more;
    return *this;
  }
  const std::string& text() const { return text_; }

 private:
  std::string text_;
};

// The default catalog plus availability facts for eastus (as `import-skus` would write):
// the two base sizes are offered, Standard_D16s_v5 is restricted, others are absent.
inline Catalog test_catalog() {
  Catalog c = *Catalog::load_default();
  c.upsert(Availability{"Standard_NC40ads_H100_v5", "eastus", {"1", "2"}, "", "test"});
  c.upsert(Availability{"Standard_D4s_v5", "eastus", {"1", "2", "3"}, "", "test"});
  c.upsert(Availability{"Standard_D16s_v5", "eastus", {}, "NotAvailableForSubscription", "test"});
  return c;
}

}  // namespace codefleet::testing_support
