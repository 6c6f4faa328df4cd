#include <gtest/gtest.h>

#include "fixtures.h"

#include <algorithm>
#include <set>
#include <string>
#include <tuple>
#include <vector>

#include "catalog/catalog.h"
#include "core/text.h"

namespace codefleet {
namespace {

using testing_support::default_catalog;

std::set<std::string> skus_of(const std::vector<const VmSize*>& sizes) {
  std::set<std::string> out;
  for (const VmSize* s : sizes) out.insert(s->sku);
  return out;
}

TEST(CatalogDefault, LoadsSizesAndPrices) {
  const Catalog& cat = default_catalog();
  EXPECT_EQ(cat.sizes().size(), 67u);        // data/catalog/SOURCES.md: 67 size rows
  EXPECT_EQ(cat.all_prices().size(), 490u);  // 490 price rows, no duplicate keys
  EXPECT_TRUE(cat.all_availability().empty());
}

TEST(CatalogDefault, NC40adsH100v5) {
  const VmSize* s = default_catalog().find_size("Standard_NC40ads_H100_v5");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->sku, "Standard_NC40ads_H100_v5");
  EXPECT_EQ(s->series, "NCads_H100_v5");
  EXPECT_EQ(s->vcpus, 40);
  EXPECT_EQ(s->memory_mib, 327680);  // 320 GiB
  EXPECT_EQ(s->gpu_milli, 1000);
  EXPECT_EQ(s->gpu_memory_mib, 94 * 1024);
  EXPECT_TRUE(iequals(s->quota_family, "standardNCadsH100v5Family")) << s->quota_family;
  EXPECT_FALSE(s->hibernation_supported);
  EXPECT_EQ(s->resources(), (Resources{40, 327680, 1000, 96256}));
  EXPECT_FALSE(s->source.empty());

  std::vector<Price> prices = default_catalog().prices(s->sku);
  ASSERT_FALSE(prices.empty());
  for (const Price& p : prices) {
    EXPECT_EQ(p.sku, "Standard_NC40ads_H100_v5");
    EXPECT_FALSE(p.source.empty()) << p.region << " " << price_type_name(p.type);
    EXPECT_GT(p.usd_per_hour.micros(), 0);
    EXPECT_FALSE(p.estimated);
  }
  // Sorted by (region, type).
  EXPECT_TRUE(std::is_sorted(prices.begin(), prices.end(), [](const Price& a, const Price& b) {
    return std::tie(a.region, a.type) < std::tie(b.region, b.type);
  }));
  EXPECT_EQ(default_catalog().prices("standard_nc40ads_h100_v5", "EastUS").size(), 1u);
}

struct SizeFactCase {
  const char* sku;
  int64_t vcpus;
  int64_t memory_mib;
  int64_t gpu_milli;
  bool hibernation;
};

class CatalogSizeFacts : public testing::TestWithParam<SizeFactCase> {};

TEST_P(CatalogSizeFacts, Match) {
  const SizeFactCase& c = GetParam();
  const VmSize* s = default_catalog().find_size(c.sku);
  ASSERT_NE(s, nullptr) << c.sku;
  EXPECT_EQ(s->vcpus, c.vcpus);
  EXPECT_EQ(s->memory_mib, c.memory_mib);
  EXPECT_EQ(s->gpu_milli, c.gpu_milli);
  EXPECT_EQ(s->hibernation_supported, c.hibernation);
}

INSTANTIATE_TEST_SUITE_P(
    Default, CatalogSizeFacts,
    testing::Values(SizeFactCase{"Standard_D4s_v5", 4, 16384, 0, true},
                    SizeFactCase{"Standard_B1ls", 1, 512, 0, false},              // 0.5 GiB
                    SizeFactCase{"Standard_M8ms", 8, 224000, 0, false},           // 218.75 GiB
                    SizeFactCase{"Standard_NV6ads_A10_v5", 6, 56320, 167, true},  // 1/6 GPU
                    SizeFactCase{"Standard_NV12ads_A10_v5", 12, 112640, 333, true},
                    SizeFactCase{"Standard_NV18ads_A10_v5", 18, 225280, 500, false},
                    SizeFactCase{"Standard_NC80adis_H100_v5", 80, 655360, 2000, false},
                    SizeFactCase{"Standard_D32s_v5", 32, 131072, 0, false}));

TEST(CatalogDefault, D4sV5Details) {
  const VmSize* s = default_catalog().find_size("Standard_D4s_v5");
  ASSERT_NE(s, nullptr);
  EXPECT_EQ(s->accelerated_networking, AcceleratedNetworking::kRequired);
  EXPECT_TRUE(s->premium_storage);
  EXPECT_EQ(s->max_data_disks, 8);
  EXPECT_EQ(s->temp_storage_gib, 0);
}

TEST(CatalogDefault, FindSizeIsCaseInsensitive) {
  const Catalog& cat = default_catalog();
  for (const char* name :
       {"Standard_NC40ads_H100_v5", "standard_nc40ads_h100_v5", "STANDARD_NC40ADS_H100_V5"}) {
    const VmSize* s = cat.find_size(name);
    ASSERT_NE(s, nullptr) << name;
    EXPECT_EQ(s->sku, "Standard_NC40ads_H100_v5");
  }
  EXPECT_EQ(cat.find_size("Standard_NC40ads_H100"), nullptr);
  EXPECT_EQ(cat.find_size("Standard_D4s_v6"), nullptr);
  EXPECT_EQ(cat.find_size(""), nullptr);
}

TEST(CatalogPrice, WesteuropeWithoutFallbackIsNotFound) {
  auto p = default_catalog().price("Standard_NC40ads_H100_v5", "westeurope", PriceType::kPayg);
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::kNotFound);
  EXPECT_NE(p.error().message.find("import-prices"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("westeurope"), std::string::npos) << p.error().message;
  EXPECT_NE(p.error().message.find("--price-fallback"), std::string::npos) << p.error().message;
  EXPECT_FALSE(default_catalog().knows_region("westeurope"));
}

TEST(CatalogPrice, FallbackRegionGivesAnEstimate) {
  auto p =
      default_catalog().price("Standard_NC40ads_H100_v5", "westeurope", PriceType::kPayg, "eastus");
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_TRUE(p->estimated);
  EXPECT_EQ(p->estimated_from, "eastus");
  EXPECT_EQ(p->region, "westeurope");
  EXPECT_EQ(p->sku, "Standard_NC40ads_H100_v5");
  EXPECT_EQ(p->type, PriceType::kPayg);
  EXPECT_EQ(p->usd_per_hour.micros(), 6'980'000);
  EXPECT_EQ(p->usd_per_hour.to_string(), "6.98");
  EXPECT_FALSE(p->source.empty());
}

TEST(CatalogPrice, ExactRegionIsNotAnEstimate) {
  // Region and sku are matched case-insensitively; the fallback is not used when not needed.
  auto p = default_catalog().price("standard_nc40ads_h100_v5", "EastUS", PriceType::kPayg,
                                   "southcentralus");
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_FALSE(p->estimated);
  EXPECT_EQ(p->estimated_from, "");
  EXPECT_EQ(p->region, "eastus");
  EXPECT_EQ(p->usd_per_hour.micros(), 6'980'000);
}

TEST(CatalogPrice, FallbackWithoutThePriceEither) {
  // NC40ads has no spot row anywhere in the default catalog.
  auto p =
      default_catalog().price("Standard_NC40ads_H100_v5", "westeurope", PriceType::kSpot, "eastus");
  ASSERT_FALSE(p);
  EXPECT_EQ(p.error().code, ErrorCode::kNotFound);
  EXPECT_NE(p.error().message.find("fallback region eastus"), std::string::npos)
      << p.error().message;
  EXPECT_NE(p.error().message.find("import-prices"), std::string::npos) << p.error().message;
}

TEST(CatalogPrice, Reservations) {
  auto r1 = default_catalog().price("Standard_M8ms", "eastus", PriceType::kReservation1y);
  ASSERT_TRUE(r1) << r1.error().describe();
  EXPECT_EQ(r1->usd_per_hour.micros(), 883'562);
  EXPECT_EQ(r1->term, "1 Year");
  auto r3 = default_catalog().price("Standard_M8ms", "eastus", PriceType::kReservation3y);
  ASSERT_TRUE(r3) << r3.error().describe();
  EXPECT_EQ(r3->usd_per_hour.micros(), 429'871);
  EXPECT_EQ(r3->term, "3 Years");
}

// Builds a SizeFilter field by field (designated initializers would warn about the rest).
struct F {
  SizeFilter f;
  F& region(std::string r) {
    f.region = std::move(r);
    return *this;
  }
  F& family(std::string s) {
    f.family = std::move(s);
    return *this;
  }
  F& min_gpu_milli(int64_t n) {
    f.min_gpu_milli = n;
    return *this;
  }
  F& min_vcpus(int64_t n) {
    f.min_vcpus = n;
    return *this;
  }
  F& min_memory_mib(int64_t n) {
    f.min_memory_mib = n;
    return *this;
  }
  F& hibernation_only() {
    f.hibernation_only = true;
    return *this;
  }
  operator SizeFilter() const { return f; }
};

struct FilterCase {
  const char* name;
  SizeFilter filter;
  std::set<std::string> expected;
};

class CatalogSizesFilter : public testing::TestWithParam<FilterCase> {};

TEST_P(CatalogSizesFilter, Selects) {
  EXPECT_EQ(skus_of(default_catalog().sizes(GetParam().filter)), GetParam().expected);
}

const std::set<std::string> kDsv5 = {"Standard_D2s_v5",  "Standard_D4s_v5",  "Standard_D8s_v5",
                                     "Standard_D16s_v5", "Standard_D32s_v5", "Standard_D48s_v5",
                                     "Standard_D64s_v5"};
const std::set<std::string> kH100 = {"Standard_NC40ads_H100_v5", "Standard_NC80adis_H100_v5"};

INSTANTIATE_TEST_SUITE_P(
    Default, CatalogSizesFilter,
    testing::Values(
        FilterCase{"HibernationOnly",
                   F().hibernation_only(),
                   {"Standard_D2s_v5", "Standard_D4s_v5", "Standard_D8s_v5", "Standard_D16s_v5",
                    "Standard_D2ds_v5", "Standard_D4ds_v5", "Standard_D8ds_v5", "Standard_D16ds_v5",
                    "Standard_D2as_v5", "Standard_D4as_v5", "Standard_D8as_v5", "Standard_D16as_v5",
                    "Standard_E2s_v5", "Standard_E4s_v5", "Standard_E8s_v5",
                    "Standard_NV6ads_A10_v5", "Standard_NV12ads_A10_v5"}},
        FilterCase{
            "WholeGpu",
            F().min_gpu_milli(1000),
            {"Standard_NC40ads_H100_v5", "Standard_NC80adis_H100_v5", "Standard_NV36ads_A10_v5"}},
        FilterCase{
            "AnyGpu",
            F().min_gpu_milli(1),
            {"Standard_NC40ads_H100_v5", "Standard_NC80adis_H100_v5", "Standard_NV6ads_A10_v5",
             "Standard_NV12ads_A10_v5", "Standard_NV18ads_A10_v5", "Standard_NV36ads_A10_v5"}},
        FilterCase{"HalfGpuAndHibernation",
                   F().min_gpu_milli(300).hibernation_only(),
                   {"Standard_NV12ads_A10_v5"}},
        FilterCase{"SeriesExact", F().family("Dsv5"), kDsv5},
        FilterCase{"SeriesLowerCase", F().family("dsv5"), kDsv5},
        FilterCase{"QuotaFamily", F().family("standardDSv5Family"), kDsv5},
        FilterCase{"QuotaFamilyUpperCase", F().family("STANDARDDSV5FAMILY"), kDsv5},
        FilterCase{"H100Series", F().family("ncads_h100_v5"), kH100},
        FilterCase{"H100QuotaFamilyOtherCase", F().family("standardNCADSH100v5Family"), kH100},
        FilterCase{"FamilyAndMinVcpus",
                   F().family("Dsv5").min_vcpus(32),
                   {"Standard_D32s_v5", "Standard_D48s_v5", "Standard_D64s_v5"}},
        FilterCase{"FamilyAndMinMemory",
                   F().family("Dsv5").min_memory_mib(200 * 1024),
                   {"Standard_D64s_v5"}},
        FilterCase{"UnknownFamily", F().family("Dsv9"), {}},
        FilterCase{"PartialFamilyDoesNotMatch", F().family("Dsv"), {}}),
    [](const testing::TestParamInfo<FilterCase>& info) { return std::string(info.param.name); });

TEST(CatalogSizes, NoFilterListsAll) { EXPECT_EQ(default_catalog().sizes().size(), 67u); }

TEST(CatalogSizes, RegionUnknownToTheCatalogExcludesNothing) {
  // The default catalog has no westeurope facts: offered() is kUnknown, which does not exclude.
  EXPECT_EQ(default_catalog().offered("Standard_D4s_v5", "westeurope"), Offered::kUnknown);
  EXPECT_EQ(default_catalog().sizes(F().region("westeurope")).size(), 67u);
  // A priced region: the size is offered there.
  EXPECT_EQ(default_catalog().offered("Standard_D4s_v5", "eastus"), Offered::kYes);
}

TEST(CatalogPriceType, NamesRoundTrip) {
  for (PriceType t :
       {PriceType::kPayg, PriceType::kSpot, PriceType::kReservation1y, PriceType::kReservation3y}) {
    auto parsed = parse_price_type(price_type_name(t));
    ASSERT_TRUE(parsed) << price_type_name(t);
    EXPECT_EQ(*parsed, t);
  }
  EXPECT_EQ(parse_price_type("PAYG"), PriceType::kPayg);
  EXPECT_EQ(parse_price_type("spot"), PriceType::kSpot);
  EXPECT_FALSE(parse_price_type("reservation"));
  EXPECT_FALSE(parse_price_type(""));
}

TEST(CatalogUpsert, ReplacesByKey) {
  Catalog cat;
  auto price = [](const char* sku, PriceType type, int64_t micros, const char* source) {
    Price p;
    p.sku = sku;
    p.region = "westeurope";
    p.type = type;
    p.usd_per_hour = Money::from_micros(micros);
    p.source = source;
    return p;
  };
  cat.upsert(price("Standard_D4s_v5", PriceType::kPayg, 230'000, "a"));
  cat.upsert(price("standard_d4s_v5", PriceType::kPayg, 240'000, "b"));  // same key, other case
  cat.upsert(price("Standard_D4s_v5", PriceType::kSpot, 27'600, "c"));
  ASSERT_EQ(cat.all_prices().size(), 2u);
  auto p = cat.price("Standard_D4s_v5", "westeurope", PriceType::kPayg);
  ASSERT_TRUE(p);
  EXPECT_EQ(p->usd_per_hour.micros(), 240'000);
  EXPECT_EQ(p->source, "b");
}

struct BadCsvCase {
  const char* name;
  bool prices;  // else sizes
  const char* text;
  const char* location;
  const char* message_part;
};

class CatalogBadCsv : public testing::TestWithParam<BadCsvCase> {};

TEST_P(CatalogBadCsv, NamesFileAndLine) {
  const BadCsvCase& c = GetParam();
  Catalog cat;
  auto ok = c.prices ? cat.add_prices_csv(c.text, "x.csv") : cat.add_sizes_csv(c.text, "x.csv");
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(ok.error().location, c.location);
  EXPECT_NE(ok.error().message.find(c.message_part), std::string::npos) << ok.error().message;
}

constexpr const char* kPriceHeader = "sku,region,price_type,usd_per_hour,term,source,as_of\n";

INSTANTIATE_TEST_SUITE_P(
    Cases, CatalogBadCsv,
    testing::Values(
        BadCsvCase{
            "PriceNotANumber", true,
            "sku,region,price_type,usd_per_hour,term,source,as_of\nA,eastus,payg_linux,1,,s,\n"
            "B,eastus,payg_linux,abc,,s,\n",
            "x.csv:3", "usd_per_hour"},
        BadCsvCase{
            "PriceZero", true,
            "sku,region,price_type,usd_per_hour,term,source,as_of\nA,eastus,payg_linux,0,,s,\n",
            "x.csv:2", "not a positive amount"},
        BadCsvCase{
            "PriceType", true,
            "sku,region,price_type,usd_per_hour,term,source,as_of\nA,eastus,ondemand,1,,s,\n",
            "x.csv:2", "'ondemand'"},
        BadCsvCase{
            "PriceNoSource", true,
            "sku,region,price_type,usd_per_hour,term,source,as_of\nA,eastus,payg_linux,1,,,\n",
            "x.csv:2", "every price needs one"},
        BadCsvCase{"PriceMissingColumn", true,
                   "sku,region,price_type,usd_per_hour\nA,eastus,payg_linux,1\n", "x.csv:1",
                   "missing column 'source'"},
        BadCsvCase{"SizeNegativeVcpus", false, "sku,vcpus,memory_gib,quota_family\nA,-4,16,f\n",
                   "x.csv:2", "column 'vcpus'"},
        BadCsvCase{"SizeEmptyMemory", false, "sku,vcpus,memory_gib,quota_family\nA,4,,f\n",
                   "x.csv:2", "column 'memory_gib' is empty"},
        BadCsvCase{"SizeBadBool", false,
                   "sku,vcpus,memory_gib,quota_family,hibernation_supported\nA,4,16,f,yes\n",
                   "x.csv:2", "hibernation_supported"}),
    [](const testing::TestParamInfo<BadCsvCase>& info) { return std::string(info.param.name); });

TEST(CatalogCsv, SizesRoundTripThroughCsv) {
  const Catalog& cat = default_catalog();
  std::vector<VmSize> sizes;
  for (const VmSize* s : cat.sizes()) sizes.push_back(*s);
  Catalog again;
  auto ok = again.add_sizes_csv(sizes_to_csv(sizes), "round-trip.csv");
  ASSERT_TRUE(ok) << ok.error().describe();
  ASSERT_EQ(again.sizes().size(), sizes.size());
  for (const VmSize& s : sizes) {
    const VmSize* t = again.find_size(s.sku);
    ASSERT_NE(t, nullptr) << s.sku;
    EXPECT_EQ(t->resources(), s.resources()) << s.sku;
    EXPECT_EQ(t->quota_family, s.quota_family) << s.sku;
    EXPECT_EQ(t->series, s.series) << s.sku;
    EXPECT_EQ(t->accelerated_networking, s.accelerated_networking) << s.sku;
    EXPECT_EQ(t->hibernation_supported, s.hibernation_supported) << s.sku;
    EXPECT_EQ(t->source, s.source) << s.sku;
  }
}

TEST(CatalogCsv, PricesRoundTripThroughCsv) {
  const Catalog& cat = default_catalog();
  Catalog again;
  auto ok = again.add_prices_csv(prices_to_csv(cat.all_prices()), "round-trip.csv");
  ASSERT_TRUE(ok) << ok.error().describe();
  ASSERT_EQ(again.all_prices().size(), cat.all_prices().size());
  for (size_t i = 0; i < cat.all_prices().size(); ++i) {
    const Price& a = cat.all_prices()[i];
    const Price& b = again.all_prices()[i];
    EXPECT_EQ(a.sku, b.sku);
    EXPECT_EQ(a.region, b.region);
    EXPECT_EQ(a.type, b.type);
    EXPECT_EQ(a.usd_per_hour, b.usd_per_hour);
    EXPECT_EQ(a.term, b.term);
    EXPECT_EQ(a.source, b.source);
    EXPECT_EQ(a.as_of, b.as_of);
  }
}

}  // namespace
}  // namespace codefleet
