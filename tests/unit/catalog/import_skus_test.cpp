#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/import.h"
#include "fixtures.h"

namespace codefleet {
namespace {

using testing_support::default_catalog;

using nlohmann::json;
using testing_support::fixture;

constexpr const char* kToday = "2026-11-27";

class ImportSkusFixture : public testing::Test {
 protected:
  void SetUp() override {
    auto r = import_list_skus(fixture("skus/list-skus.json"), default_catalog(), kToday);
    ASSERT_TRUE(r) << r.error().describe();
    imp = *r;
  }
  const VmSize* size(const std::string& sku) const {
    for (const auto& s : imp.sizes) {
      if (s.sku == sku) return &s;
    }
    return nullptr;
  }
  const Availability* where(const std::string& sku,
                            const std::string& region = "westeurope") const {
    for (const auto& a : imp.availability) {
      if (a.sku == sku && a.region == region) return &a;
    }
    return nullptr;
  }
  SkuImport imp;
};

TEST_F(ImportSkusFixture, KeepsEveryVmSizeAndSkipsOtherResourceTypes) {
  std::vector<std::string> skus;
  for (const auto& s : imp.sizes) skus.push_back(s.sku);
  EXPECT_EQ(skus, (std::vector<std::string>{"Standard_D4s_v5", "Standard_NC40ads_H100_v5",
                                            "Standard_NV6ads_A10_v5", "Standard_E4s_v5",
                                            "Standard_M8ms", "Standard_D4s_v6"}));
  EXPECT_EQ(imp.skipped_other_resource_types, 1);  // Premium_LRS (disks)
  EXPECT_EQ(imp.availability.size(), 6u);
  for (const auto& a : imp.availability) {
    EXPECT_EQ(a.region, "westeurope") << a.sku;
    EXPECT_EQ(a.source, "az vm list-skus (list-skus.json), imported 2026-11-27") << a.sku;
  }
  EXPECT_TRUE(imp.warnings.empty()) << imp.warnings.front();
}

TEST_F(ImportSkusFixture, D4sV5) {
  const VmSize* s = size("Standard_D4s_v5");
  ASSERT_NE(s, nullptr);
  EXPECT_TRUE(s->hibernation_supported);
  EXPECT_EQ(s->vcpus, 4);
  EXPECT_EQ(s->memory_mib, 16384);
  EXPECT_EQ(s->gpu_milli, 0);
  EXPECT_EQ(s->series, "Dsv5");  // kept from the known catalog
  EXPECT_EQ(s->quota_family, "standardDSv5Family");
  EXPECT_EQ(s->max_data_disks, 8);
  EXPECT_EQ(s->temp_storage_gib, 0);
  EXPECT_TRUE(s->premium_storage);
  // The API says only "True"; the catalog's "Required" is kept.
  EXPECT_EQ(s->accelerated_networking, AcceleratedNetworking::kRequired);
  EXPECT_EQ(s->source.rfind("az vm list-skus (list-skus.json), imported 2026-11-27", 0), 0u)
      << s->source;

  const Availability* a = where("Standard_D4s_v5");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->zones, (std::vector<std::string>{"1", "2", "3"}));
  EXPECT_EQ(a->restriction, "");
}

TEST_F(ImportSkusFixture, NC40adsH100KeepsGpuFactsTakesQuotaFamily) {
  const VmSize* s = size("Standard_NC40ads_H100_v5");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->vcpus, 40);
  EXPECT_EQ(s->memory_mib, 327680);
  EXPECT_EQ(s->gpu_milli, 1000);
  EXPECT_EQ(s->gpu_memory_mib, 96256);  // 94 GiB, from the known catalog: list-skus lacks it
  EXPECT_EQ(s->gpu_model, "NVIDIA H100 PCIe 94GB");
  EXPECT_EQ(s->quota_family, "standardNCADSH100v5Family");  // exactly as the import spells it
  EXPECT_EQ(s->series, "NCads_H100_v5");
  EXPECT_FALSE(s->hibernation_supported);
  EXPECT_EQ(s->temp_storage_gib, 3576);  // MaxResourceVolumeMB 3661824 / 1024
  EXPECT_NE(s->source.find("az vm list-skus"), std::string::npos) << s->source;
  EXPECT_NE(s->source.find("ncadsh100v5-series.md"), std::string::npos) << s->source;
}

TEST_F(ImportSkusFixture, FractionalGpuKeptFromCatalog) {
  // list-skus reports GPUs "1" for a 1/6 A10 slice; the catalog's 167 milli-GPU is kept.
  const VmSize* s = size("Standard_NV6ads_A10_v5");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->gpu_milli, 167);
  EXPECT_EQ(s->gpu_memory_mib, 4096);
  EXPECT_EQ(s->memory_mib, 56320);
  EXPECT_EQ(s->series, "NVadsA10_v5");
  EXPECT_EQ(s->quota_family, "StandardNVADSA10v5Family");
}

TEST_F(ImportSkusFixture, ZoneRestrictionRemovesTheZone) {
  const Availability* a = where("Standard_E4s_v5");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->zones, (std::vector<std::string>{"1", "2"}));
  EXPECT_EQ(a->restriction, "");  // the region itself is available
}

TEST_F(ImportSkusFixture, LocationRestrictionIsRecorded) {
  const Availability* a = where("Standard_M8ms");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->restriction, "NotAvailableForSubscription");
  const VmSize* s = size("Standard_M8ms");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->memory_mib, 224000);  // MemoryGB "218.75"
  EXPECT_EQ(s->series, "M");
}

TEST_F(ImportSkusFixture, NewSizeGetsSeriesFromItsName) {
  ASSERT_EQ(default_catalog().find_size("Standard_D4s_v6"), nullptr);
  const VmSize* s = size("Standard_D4s_v6");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->series, "Dsv6");
  EXPECT_EQ(s->quota_family, "standardDSv6Family");
  EXPECT_EQ(s->vcpus, 4);
  EXPECT_EQ(s->memory_mib, 16384);
  EXPECT_EQ(s->gpu_milli, 0);
  EXPECT_EQ(s->max_data_disks, 12);
  EXPECT_TRUE(s->hibernation_supported);
  EXPECT_TRUE(s->premium_storage);
  EXPECT_EQ(s->accelerated_networking, AcceleratedNetworking::kYes);
  EXPECT_EQ(s->source, "az vm list-skus (list-skus.json), imported 2026-11-27");
  const Availability* a = where("Standard_D4s_v6");
  ASSERT_NE(a, nullptr);
  EXPECT_EQ(a->zones, (std::vector<std::string>{"1", "2", "3"}));
}

TEST(ImportSkus, ValueObjectIsAccepted) {
  json list = json::parse(fixture("skus/list-skus.json").text);
  json wrapped = {{"value", list}};
  auto a = import_list_skus(InputFile{"rest.json", wrapped.dump(2)}, default_catalog(), kToday);
  auto b = import_list_skus(fixture("skus/list-skus.json"), default_catalog(), kToday);
  ASSERT_TRUE(a) << a.error().describe();
  ASSERT_TRUE(b) << b.error().describe();
  ASSERT_EQ(a->sizes.size(), b->sizes.size());
  for (size_t i = 0; i < a->sizes.size(); ++i) {
    EXPECT_EQ(a->sizes[i].sku, b->sizes[i].sku);
    EXPECT_EQ(a->sizes[i].resources(), b->sizes[i].resources());
    EXPECT_EQ(a->sizes[i].quota_family, b->sizes[i].quota_family);
  }
  ASSERT_EQ(a->availability.size(), b->availability.size());
  for (size_t i = 0; i < a->availability.size(); ++i) {
    EXPECT_EQ(a->availability[i].sku, b->availability[i].sku);
    EXPECT_EQ(a->availability[i].zones, b->availability[i].zones);
    EXPECT_EQ(a->availability[i].restriction, b->availability[i].restriction);
  }
  EXPECT_EQ(a->skipped_other_resource_types, 1);
}

TEST(ImportSkus, WithoutKnownCatalog) {
  auto r = import_list_skus(fixture("skus/list-skus.json"), Catalog{}, kToday);
  ASSERT_TRUE(r) << r.error().describe();
  auto h100 = std::find_if(r->sizes.begin(), r->sizes.end(),
                           [](const VmSize& s) { return s.sku == "Standard_NC40ads_H100_v5"; });
  ASSERT_NE(h100, r->sizes.end());
  EXPECT_EQ(h100->series, "NCads_H100_v5");  // derived from the name
  EXPECT_EQ(h100->gpu_milli, 1000);
  EXPECT_EQ(h100->gpu_memory_mib, 0);
  EXPECT_EQ(h100->gpu_model, "");
  auto nv6 = std::find_if(r->sizes.begin(), r->sizes.end(),
                          [](const VmSize& s) { return s.sku == "Standard_NV6ads_A10_v5"; });
  ASSERT_NE(nv6, r->sizes.end());
  EXPECT_EQ(nv6->gpu_milli, 1000);  // nothing known: the API's whole GPU
  // GPU memory is unknown for both GPU sizes: one warning each.
  ASSERT_EQ(r->warnings.size(), 2u);
  EXPECT_NE(r->warnings[0].find("Standard_NC40ads_H100_v5"), std::string::npos) << r->warnings[0];
  EXPECT_NE(r->warnings[0].find("GPU memory"), std::string::npos) << r->warnings[0];
  EXPECT_NE(r->warnings[1].find("Standard_NV6ads_A10_v5"), std::string::npos) << r->warnings[1];
  auto d4 = std::find_if(r->sizes.begin(), r->sizes.end(),
                         [](const VmSize& s) { return s.sku == "Standard_D4s_v5"; });
  ASSERT_NE(d4, r->sizes.end());
  EXPECT_EQ(d4->series, "Dsv5");
  EXPECT_EQ(d4->accelerated_networking, AcceleratedNetworking::kYes);
}

json vm_sku(const std::string& name) {
  return json{{"apiVersions", nullptr},
              {"capabilities", json::array({{{"name", "vCPUs"}, {"value", "4"}},
                                            {{"name", "MemoryGB"}, {"value", "16"}}})},
              {"capacity", nullptr},
              {"costs", nullptr},
              {"family", "standardDSv5Family"},
              {"kind", nullptr},
              {"locationInfo", json::array({{{"location", "westeurope"},
                                             {"zoneDetails", json::array()},
                                             {"zones", json::array({"2", "3", "1"})}}})},
              {"locations", json::array({"westeurope"})},
              {"name", name},
              {"resourceType", "virtualMachines"},
              {"restrictions", json::array()},
              {"size", name.substr(9)},
              {"tier", "Standard"}};
}

TEST(ImportSkus, ZonesAreSortedAndRegionsLowerCased) {
  json sku = vm_sku("Standard_D4s_v5");
  sku["locationInfo"][0]["location"] = "WestEurope";
  sku["locations"] = json::array({"WestEurope"});
  auto r =
      import_list_skus(InputFile{"s.json", json::array({sku}).dump()}, default_catalog(), kToday);
  ASSERT_TRUE(r) << r.error().describe();
  ASSERT_EQ(r->availability.size(), 1u);
  EXPECT_EQ(r->availability[0].region, "westeurope");
  EXPECT_EQ(r->availability[0].zones, (std::vector<std::string>{"1", "2", "3"}));
}

TEST(ImportSkus, SameSizeListedTwiceIsOneSize) {
  json a = vm_sku("Standard_D4s_v5");
  json b = vm_sku("Standard_D4s_v5");
  b["locationInfo"][0]["location"] = "northeurope";
  b["locations"] = json::array({"northeurope"});
  auto r =
      import_list_skus(InputFile{"s.json", json::array({a, b}).dump()}, default_catalog(), kToday);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_EQ(r->sizes.size(), 1u);
  ASSERT_EQ(r->availability.size(), 2u);
  EXPECT_EQ(r->availability[0].region, "westeurope");
  EXPECT_EQ(r->availability[1].region, "northeurope");
}

TEST(ImportSkus, MalformedJsonNamesFileLineAndColumn) {
  auto r = import_list_skus(
      InputFile{"skus.json", "[\n  {\"name\": \"Standard_D4s_v5\"\n  \"tier\": 1}\n]"},
      default_catalog(), kToday);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
  // The missing comma is noticed at the unexpected token `"tier"` (columns 3-8 of line 3);
  // nlohmann reports the offset of that token's last character.
  EXPECT_EQ(r.error().location, "skus.json:3:8");
  EXPECT_NE(r.error().message.find("not valid JSON"), std::string::npos) << r.error().message;
}

// Found by fuzz/skus_fuzz: a number too large for a double is nlohmann's out_of_range, not
// parse_error, and used to escape the importer (std::terminate).
TEST(ImportSkus, NumberTooLargeIsAnInputError) {
  for (const char* text : {R"({"value": [1e400]})", R"([{"capabilities": -1e400}])"}) {
    auto r = import_list_skus(InputFile{"skus.json", text}, default_catalog(), kToday);
    ASSERT_FALSE(r) << text;
    EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput) << text;
    EXPECT_EQ(r.error().location, "skus.json") << text;
    EXPECT_NE(r.error().message.find("not valid JSON"), std::string::npos) << r.error().message;
  }
}

struct ShapeCase {
  const char* name;
  const char* text;
  const char* location;
  const char* message_part;
};

class ImportSkusShape : public testing::TestWithParam<ShapeCase> {};

TEST_P(ImportSkusShape, IsRejected) {
  auto r = import_list_skus(InputFile{"s.json", GetParam().text}, default_catalog(), kToday);
  ASSERT_FALSE(r);
  EXPECT_EQ(r.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(r.error().location, GetParam().location);
  EXPECT_NE(r.error().message.find(GetParam().message_part), std::string::npos)
      << r.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ImportSkusShape,
    testing::Values(
        ShapeCase{"Object", R"({"skus": []})", "s.json", "expected a JSON array of resource SKUs"},
        ShapeCase{"ValueNotArray", R"({"value": {}})", "s.json", "expected a JSON array"},
        ShapeCase{"String", R"("Standard_D4s_v5")", "s.json", "expected a JSON array"},
        ShapeCase{"PricesPage", R"({"Items": [], "BillingCurrency": "USD"})", "s.json",
                  "az vm list-skus"},
        ShapeCase{"EntryNotObject", R"([42])", "s.json: [0]", "entry is not an object"},
        ShapeCase{"NameNotString", R"([{"resourceType": "virtualMachines", "name": 5}])",
                  "s.json: [0]", "field 'name' must be a string"},
        ShapeCase{"ResourceTypeNotString",
                  R"([{"resourceType": ["virtualMachines"], "name": "x"}])", "s.json: [0]",
                  "field 'resourceType'"},
        ShapeCase{"NameMissing", R"([{"resourceType": "virtualMachines"}])", "s.json: [0]",
                  "field 'name' is missing"},
        ShapeCase{
            "NoVcpus",
            R"([{"resourceType": "virtualMachines", "name": "Standard_X2", "capabilities": []}])",
            "s.json: [0] (Standard_X2)", "vCPUs"},
        ShapeCase{"VcpusNotANumber",
                  R"([{"resourceType": "virtualMachines", "name": "Standard_X2",
                       "capabilities": [{"name": "vCPUs", "value": "four"}]}])",
                  "s.json: [0] (Standard_X2)", "capability 'vCPUs' = 'four'"},
        ShapeCase{"NegativeMemory",
                  R"([{"resourceType": "disks", "name": "Premium_LRS"},
                      {"resourceType": "virtualMachines", "name": "Standard_X2",
                       "capabilities": [{"name": "vCPUs", "value": "2"}, {"name": "MemoryGB", "value": "-8"}]}])",
                  "s.json: [1] (Standard_X2)", "capability 'MemoryGB'"}),
    [](const testing::TestParamInfo<ShapeCase>& info) { return std::string(info.param.name); });

TEST(ImportSkus, EmptyListIsAnEmptyImport) {
  auto r = import_list_skus(InputFile{"s.json", "[]"}, default_catalog(), kToday);
  ASSERT_TRUE(r) << r.error().describe();
  EXPECT_TRUE(r->sizes.empty());
  EXPECT_TRUE(r->availability.empty());
  EXPECT_EQ(r->skipped_other_resource_types, 0);
}

}  // namespace
}  // namespace codefleet
