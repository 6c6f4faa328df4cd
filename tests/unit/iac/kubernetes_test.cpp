// The Kubernetes manifests: a Kueue ResourceFlavor per pool and one ClusterQueue whose
// nominal quota is what the pools' autoscaler maxima hold — within the Azure quota.
#include <regex>

#include "iac_fixture.h"

namespace codefleet::iac {
namespace {

using namespace testing_support;

TEST(Kueue, AFlavorPerPoolAndTheQuotaAsNominalQuota) {
  Files files = generate("recommended", IacFormat::kTerraform);
  const std::string& y = files["kubernetes/kueue.yaml"];
  Deployment d = deployment("recommended");
  for (const auto& p : d.pools) {
    EXPECT_NE(y.find("kind: ResourceFlavor\nmetadata:\n  name: " + p.spec_name + "\n"),
              std::string::npos)
        << p.spec_name;
    EXPECT_NE(y.find("    codefleet.io/pool: " + p.spec_name + "\n"), std::string::npos);
  }
  // The H100 flavors' CPU nominal quotas add up to the family's 1440 vCPUs.
  std::regex flavor(R"(- name: (h100-\w+)  # (\d+) nodes × (\d+) vCPUs: StandardNCadsH100v5Family
          resources:
            - name: cpu
              nominalQuota: (\d+)
)");
  int64_t h100_cpu = 0;
  int flavors = 0;
  for (auto it = std::sregex_iterator(y.begin(), y.end(), flavor); it != std::sregex_iterator();
       ++it) {
    EXPECT_EQ(std::stoll((*it)[4]), std::stoll((*it)[2]) * std::stoll((*it)[3]));
    h100_cpu += std::stoll((*it)[4]);
    ++flavors;
  }
  EXPECT_EQ(flavors, 2);
  EXPECT_EQ(h100_cpu, 1440);
  EXPECT_NE(y.find("            - name: nvidia.com/gpu\n              nominalQuota: 24\n"),
            std::string::npos);  // h100-train: 24 nodes × 1 GPU
  EXPECT_NE(y.find("kind: LocalQueue\nmetadata:\n  name: codefleet\n  namespace: prod\n"),
            std::string::npos);
  EXPECT_NE(y.find("nodeTaints:\n    - key: nvidia.com/gpu\n      value: present\n"),
            std::string::npos);
}

TEST(StorageClasses, OnePerDiskTierAndNoneForLocalNvme) {
  Files files = generate("seed", IacFormat::kBicep);
  const std::string& y = files["kubernetes/storage-classes.yaml"];
  EXPECT_NE(y.find("name: codefleet-premium\n"), std::string::npos) << y;
  EXPECT_NE(y.find("skuName: Premium_LRS\n"), std::string::npos);
  EXPECT_NE(y.find("skuName: UltraSSD_LRS\n  cachingMode: None\n"), std::string::npos);
  Files rec = generate("recommended", IacFormat::kBicep);
  EXPECT_EQ(rec["kubernetes/storage-classes.yaml"].find("scratch"), std::string::npos);
}

}  // namespace
}  // namespace codefleet::iac

namespace codefleet::iac {
namespace {

using namespace testing_support;

// Each generated block of `kind` ("azurerm_kubernetes_cluster_node_pool") by its name.
std::map<std::string, std::string> tf_blocks(const std::string& hcl, const std::string& kind) {
  std::map<std::string, std::string> out;
  std::regex head("resource \"" + kind + "\" \"(\\w+)\" \\{\n");
  for (auto it = std::sregex_iterator(hcl.begin(), hcl.end(), head); it != std::sregex_iterator();
       ++it) {
    size_t start = it->position(0);
    size_t end = hcl.find("\n}\n", start);
    out[(*it)[1]] = hcl.substr(start, end - start);
  }
  return out;
}

// One owner per pool: with scaler: codefleet (the default) the daemon sets the count and
// the cluster autoscaler is off; with scaler: cluster-autoscaler it is on and the daemon
// leaves the pool's count alone (cloud/azure/aks_cloud.cpp refuses to map it).
TEST(OnePoolOneScaler, NoGeneratedPoolIsScaledByBothTheAutoscalerAndCodeFleet) {
  for (const char* name : {"recommended", "seed"}) {
    IacOptions o;
    Deployment d = deployment(name, o);
    ASSERT_FALSE(d.pools.empty());
    std::string aks = emit_terraform(d)["aks.tf"];
    std::string bicep = emit_bicep(d)["platform.bicep"];
    auto blocks = tf_blocks(aks, "azurerm_kubernetes_cluster_node_pool");
    for (const auto& p : d.pools) {
      ASSERT_TRUE(p.codefleet_scaled) << name << " " << p.spec_name << ": the default owner";
      ASSERT_TRUE(blocks.count(p.id)) << p.id;
      EXPECT_NE(blocks[p.id].find("auto_scaling_enabled = false"), std::string::npos)
          << blocks[p.id];
      EXPECT_EQ(blocks[p.id].find("min_count"), std::string::npos) << blocks[p.id];
      // Terraform leaves the count to the daemon after the first apply.
      EXPECT_NE(blocks[p.id].find("ignore_changes = [node_count]"), std::string::npos);
    }
    EXPECT_EQ(bicep.find("enableAutoScaling: true\n      minCount: 0\n      maxCount: 20"),
              std::string::npos);
    // The same pools handed to the autoscaler: on, with its bounds; nothing else changes.
    for (auto& p : d.pools) p.codefleet_scaled = false;
    blocks = tf_blocks(emit_terraform(d)["aks.tf"], "azurerm_kubernetes_cluster_node_pool");
    for (const auto& p : d.pools) {
      if (p.max_count == 0) continue;
      EXPECT_NE(blocks[p.id].find("auto_scaling_enabled        = true"), std::string::npos)
          << blocks[p.id];
      EXPECT_NE(blocks[p.id].find("max_count"), std::string::npos);
    }
  }
}

TEST(Rbac, TheDaemonsAccountMayDoWhatTheExecutorNeedsAndNoMore) {
  Files files = generate("recommended", IacFormat::kTerraform);
  const std::string& y = files["kubernetes/codefleet-rbac.yaml"];
  ASSERT_FALSE(y.empty());
  EXPECT_NE(y.find(R"(  - apiGroups: ["batch"]
    resources: ["jobs"]
    verbs: ["create", "get", "list", "watch", "delete"])"),
            std::string::npos);
  EXPECT_NE(y.find(R"(    resources: ["pods"]
    verbs: ["get", "list", "watch"])"),
            std::string::npos);
  EXPECT_NE(y.find(R"(    resources: ["pods/log"]
    verbs: ["get"])"),
            std::string::npos);
  EXPECT_NE(y.find(R"(    resources: ["nodes"]
    verbs: ["get", "list", "watch"])"),
            std::string::npos);
  // Least privilege: no wildcard, no writes beyond Jobs, no Secrets.
  for (const char* never : {"\"*\"", "update", "patch", "secrets", "deletecollection"}) {
    EXPECT_EQ(y.find(never), std::string::npos) << never;
  }
  EXPECT_EQ(files.count("kubernetes/codefleet-rbac.yaml"), 1u);
}

}  // namespace
}  // namespace codefleet::iac
