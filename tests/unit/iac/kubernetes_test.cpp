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
