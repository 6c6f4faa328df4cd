// The deployment model: autoscaler bounds within quota, sizes as the spec says, the
// dev box on a size that hibernates, spot and GPU pools marked, the environment filter.
#include "core/text.h"
#include "iac/hcl.h"
#include "iac_fixture.h"

namespace codefleet::iac {
namespace {

using namespace testing_support;

// Runs of spaces and newlines as one space: alignment does not matter here.
std::string squash(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool space = c == ' ' || c == '\n';
    if (space && !out.empty() && out.back() == ' ') continue;
    out += space ? ' ' : c;
  }
  return out;
}

const NodePool* pool(const Deployment& d, const std::string& spec_name) {
  for (const auto& p : d.pools) {
    if (p.spec_name == spec_name) return &p;
  }
  return nullptr;
}

TEST(Deployment, RecommendedH100PoolsStayWithinThe1440VcpuQuota) {
  Deployment d = deployment("recommended");
  const NodePool* train = pool(d, "h100-train");
  const NodePool* infer = pool(d, "h100-infer");
  ASSERT_TRUE(train && infer);
  EXPECT_EQ(train->vcpus, 40);
  EXPECT_EQ(infer->vcpus, 80);
  EXPECT_EQ(train->max_count, 24);  // the spec's max_nodes: 24 × 40 = 960
  EXPECT_EQ(infer->max_count, 6);   // 6 × 80 = 480: together exactly 1440
  EXPECT_LE(train->max_count * 40, 1440);
  EXPECT_LE(infer->max_count * 80, 1440);
  EXPECT_LE(train->max_count * 40 + infer->max_count * 80, 1440);
  EXPECT_FALSE(train->clamped);
  // Every pool of every family: the sum of max × vCPUs stays within the declared quota.
  const QuotaSpec* q = example("recommended").parsed.spec.find_quota("westeurope");
  ASSERT_TRUE(q);
  for (const auto& [family, limit] : q->families) {
    int64_t used = 0;
    std::vector<const NodePool*> all{&d.system_pool};
    for (const auto& p : d.pools) all.push_back(&p);
    for (const auto* p : all) {
      if (!p->spot && iequals(p->quota_family, family)) used += p->max_count * p->vcpus;
    }
    EXPECT_LE(used, limit) << family;
  }
}

TEST(Deployment, EveryPoolSizeMatchesTheSpec) {
  const Spec& spec = example("recommended").parsed.spec;
  Deployment d = deployment("recommended");
  size_t seen = 0;
  for (const Pool* p : spec.all_pools()) {
    if (const NodePool* np = pool(d, p->name)) {
      EXPECT_TRUE(iequals(np->sku, p->sku)) << p->name;
      EXPECT_EQ(np->min_count, p->min_nodes) << p->name;
      EXPECT_EQ(np->max_count, p->max_nodes) << p->name;  // nothing clamped in this spec
      ++seen;
    }
    for (const auto& b : d.dev_boxes) {
      if (b.spec_name == p->name) {
        EXPECT_TRUE(iequals(b.sku, p->sku)) << p->name;  // D4s_v5 can hibernate
        ++seen;
      }
    }
  }
  EXPECT_EQ(seen, spec.all_pools().size());
}

TEST(Deployment, ClampsMaxCountToTheFamilyQuotaAndSaysSo) {
  auto parsed = parse_spec(R"(version: 1
name: clamp
regions: [eastus]
quotas:
  - region: eastus
    families: {StandardNCadsH100v5Family: 1000, standardDSv5Family: 100}
environments:
  - name: prod
    pools:
      - {name: gpu, sku: Standard_NC40ads_H100_v5, min_nodes: 30, max_nodes: 36}
      - {name: gpu2, sku: Standard_NC80adis_H100_v5, max_nodes: 4}
)",
                           "clamp.yaml");
  ASSERT_TRUE(parsed) << parsed.error().describe();
  Catalog catalog = *Catalog::load_default();
  auto model = build_fleet_model(parsed->spec, catalog, {});
  ASSERT_TRUE(model) << model.error().message;
  auto d = build_deployment(parsed->spec, *model, catalog, {});
  ASSERT_TRUE(d) << d.error().describe();
  const NodePool* gpu = pool(*d, "gpu");
  ASSERT_TRUE(gpu);
  EXPECT_EQ(gpu->max_count, 25);  // floor(1000 / 40)
  EXPECT_EQ(gpu->min_count, 25);  // never above the maximum
  EXPECT_TRUE(gpu->clamped);
  EXPECT_NE(gpu->max_note.find("clamped from max_nodes 36 to 25"), std::string::npos)
      << gpu->max_note;
  const NodePool* gpu2 = pool(*d, "gpu2");
  ASSERT_TRUE(gpu2);
  EXPECT_EQ(gpu2->max_count, 0);  // nothing left: 25 × 40 = 1000
  Files tf = emit_terraform(*d);
  // The daemon sets the count (scaler: codefleet): the clamp is said where the count is.
  EXPECT_NE(tf["aks.tf"].find("# scaler: codefleet — the daemon sets this pool's count (at most "
                              "25: max_count clamped from max_nodes 36 to 25"),
            std::string::npos)
      << tf["aks.tf"];
}

TEST(Deployment, GpuSpotAndScaleDownSettings) {
  Deployment d = deployment("recommended");
  const NodePool* train = pool(d, "h100-train");
  ASSERT_TRUE(train);
  EXPECT_EQ(train->taints, std::vector<std::string>{"nvidia.com/gpu=present:NoSchedule"});
  EXPECT_EQ(train->labels.at("codefleet.io/pool"), "h100-train");
  EXPECT_EQ(train->scale_down_mode, "Delete");  // idle.action: delete frees quota
  EXPECT_EQ(pool(d, "h100-infer")->scale_down_mode, "Deallocate");
  EXPECT_EQ(pool(d, "memory")->scale_down_mode, "Deallocate");  // E32s_v5 cannot hibernate
  const NodePool* spot = pool(d, "batch-spot");
  ASSERT_TRUE(spot);
  EXPECT_TRUE(spot->spot);
  EXPECT_EQ(spot->scale_down_mode, "Delete");
  EXPECT_EQ(spot->max_count, 8);  // 8 × 8 = 64 spot vCPUs
  Files tf = generate("recommended", IacFormat::kTerraform);
  std::string aks = squash(tf["aks.tf"]);
  EXPECT_NE(aks.find("priority = \"Spot\" eviction_policy = \"Delete\" spot_max_price = -1"),
            std::string::npos)
      << aks;
  EXPECT_NE(aks.find("node_taints = [\"nvidia.com/gpu=present:NoSchedule\"]"), std::string::npos);
}

TEST(Deployment, SeedPoolsThatCannotHibernateDeallocateAndTheDevBoxMoves) {
  Deployment d = deployment("seed");
  for (const char* name : {"h100", "ci", "general", "memory"}) {
    const NodePool* p = pool(d, name);
    ASSERT_TRUE(p) << name;
    EXPECT_EQ(p->scale_down_mode, "Deallocate") << name;
    EXPECT_NE(p->scale_down_note.find("cannot hibernate"), std::string::npos) << p->scale_down_note;
  }
  EXPECT_EQ(pool(d, "h100")->max_count, 36);  // 36 × 40 = 1440
  ASSERT_EQ(d.dev_boxes.size(), 1u);
  EXPECT_EQ(d.dev_boxes[0].spec_sku, "Standard_B2ms");
  EXPECT_EQ(d.dev_boxes[0].sku, "Standard_D2s_v5");  // the size `validate` suggests
  Files tf = generate("seed", IacFormat::kTerraform);
  EXPECT_NE(tf["devbox.tf"].find("hibernation_enabled = true"), std::string::npos);
  EXPECT_NE(tf["devbox.tf"].find("Standard_B2ms cannot hibernate"), std::string::npos);
}

TEST(Deployment, EnvironmentFilter) {
  Deployment dev = deployment("recommended", {.environment = "dev"});
  EXPECT_EQ(dev.environments, std::vector<std::string>{"dev"});
  EXPECT_TRUE(dev.pools.empty());
  EXPECT_EQ(dev.dev_boxes.size(), 1u);
  ASSERT_EQ(dev.budgets.size(), 1u);  // the subscription-wide one is left out
  EXPECT_EQ(dev.budgets[0].environment, "dev");
  EXPECT_EQ(dev.platform_rg, "rg-autocoding-dev-platform");
  const Example& e = example("recommended");
  auto bad = build_deployment(e.parsed.spec, e.model, e.catalog, {.environment = "staging"});
  ASSERT_FALSE(bad);
  EXPECT_NE(bad.error().message.find("no environment 'staging'"), std::string::npos);
}

TEST(Deployment, PlatformSubnetsDoNotOverlapTheSpecs) {
  Deployment d = deployment("recommended");
  std::vector<std::string> cidrs;
  for (const auto& s : d.subnets) cidrs.push_back(s.cidr);
  EXPECT_EQ(cidrs, (std::vector<std::string>{"10.40.0.0/22", "10.40.4.0/22", "10.40.8.0/21",
                                             "10.40.255.0/24", "10.40.254.0/24", "10.40.253.0/24",
                                             "10.40.252.224/27"}));
  EXPECT_EQ(d.api_backend_ip, "10.40.255.250");
}

TEST(HclWriter, AlignsRunsLikeTerraformFmt) {
  HclBlock b("resource", {"x", "y"});
  b.attr("name", Value::str("a")).attr("resource_group_name", Value::str("b"));
  b.attr("tags", Value::string_map({{"cost-center", "x"}, {"env", "d"}}));
  b.attr("q", Value::num(1), "a comment");
  b.block("nested").attr("k", Value::boolean(true));
  EXPECT_EQ(write_hcl({b}, ""), R"(resource "x" "y" {
  name                = "a"
  resource_group_name = "b"
  tags = {
    "cost-center" = "x"
    env           = "d"
  }
  # a comment
  q = 1

  nested {
    k = true
  }
}
)");
  EXPECT_EQ(hcl_quote("a\"b${c}"), R"("a\"b$${c}")");
}

}  // namespace
}  // namespace codefleet::iac
