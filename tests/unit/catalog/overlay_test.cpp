#include <gtest/gtest.h>

#include <filesystem>
#include <set>
#include <string>
#include <vector>

#include "catalog/csv.h"
#include "catalog/import.h"
#include "fixtures.h"

namespace codefleet {
namespace {

namespace fs = std::filesystem;
using testing_support::fixture;
using testing_support::read_text;
using testing_support::TempDir;
using testing_support::write_text;

constexpr const char* kToday = "2026-11-27";
constexpr const char* kH100PaygSource =
    "Azure Retail Prices API meterId 6f1d2c43-8a5e-4b7f-9c21-3e0d5a7b8c94 (page0.json), imported "
    "2026-11-27";

Catalog load_default_or_fail() {
  auto c = Catalog::load_default();
  EXPECT_TRUE(c) << c.error().describe();
  return c ? *c : Catalog{};
}

Price price(const char* sku, PriceType type, int64_t micros, const char* source,
            const char* as_of) {
  Price p;
  p.sku = sku;
  p.region = "westeurope";
  p.type = type;
  p.usd_per_hour = Money::from_micros(micros);
  p.source = source;
  p.as_of = as_of;
  return p;
}

std::set<std::string> files_in(const fs::path& dir) {
  std::set<std::string> out;
  for (const auto& e : fs::directory_iterator(dir)) out.insert(e.path().filename().string());
  return out;
}

class OverlayTest : public testing::Test {
 protected:
  void SetUp() override {
    Catalog known = load_default_or_fail();
    auto p = import_retail_price_pages({fixture("prices/page0.json"), fixture("prices/page1.json")},
                                       kToday);
    ASSERT_TRUE(p) << p.error().describe();
    prices = *p;
    auto s = import_list_skus(fixture("skus/list-skus.json"), known, kToday);
    ASSERT_TRUE(s) << s.error().describe();
    skus = *s;
  }
  PriceImport prices;
  SkuImport skus;
  TempDir tmp;
};

TEST_F(OverlayTest, WriteThenApplyOnTheDefaultCatalog) {
  std::string dir = (tmp.path() / "my-catalog").string();  // does not exist yet
  auto ok = write_overlay(dir, Overlay{skus.sizes, prices.prices, skus.availability});
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(files_in(dir),
            (std::set<std::string>{"vm-sizes.csv", "vm-prices.csv", "vm-availability.csv"}));

  Catalog cat = load_default_or_fail();
  ok = cat.apply_overlay_dir(dir);
  ASSERT_TRUE(ok) << ok.error().describe();

  // The westeurope price is now there, with its source, no fallback needed.
  auto h100 = cat.price("Standard_NC40ads_H100_v5", "westeurope", PriceType::kPayg);
  ASSERT_TRUE(h100) << h100.error().describe();
  EXPECT_FALSE(h100->estimated);
  EXPECT_EQ(h100->usd_per_hour.micros(), 7'872'000);
  EXPECT_EQ(h100->source, kH100PaygSource);
  EXPECT_EQ(h100->as_of, "2024-03-01");
  EXPECT_EQ(h100->term, "");

  auto r1 = cat.price("Standard_D4s_v5", "westeurope", PriceType::kReservation1y);
  ASSERT_TRUE(r1) << r1.error().describe();
  EXPECT_EQ(r1->usd_per_hour.micros(), 135'001);
  EXPECT_EQ(r1->term, "1 Year");
  auto spot = cat.price("Standard_D8s_v5", "westeurope", PriceType::kSpot);
  ASSERT_TRUE(spot) << spot.error().describe();
  EXPECT_EQ(spot->usd_per_hour.micros(), 55'200);

  // The default rows are still there.
  auto eastus = cat.price("Standard_NC40ads_H100_v5", "eastus", PriceType::kPayg);
  ASSERT_TRUE(eastus) << eastus.error().describe();
  EXPECT_EQ(eastus->usd_per_hour.micros(), 6'980'000);
  EXPECT_EQ(cat.all_prices().size(), 490u + prices.prices.size());

  // Availability from list-skus.
  EXPECT_TRUE(cat.knows_region("westeurope"));
  EXPECT_EQ(cat.offered("Standard_D4s_v5", "westeurope"), Offered::kYes);
  EXPECT_EQ(cat.offered("standard_d4s_v5", "WestEurope"), Offered::kYes);
  EXPECT_EQ(cat.offered("Standard_E4s_v5", "westeurope"), Offered::kYes);  // only zone 3 restricted
  EXPECT_EQ(cat.offered("Standard_M8ms", "westeurope"), Offered::kRestricted);
  EXPECT_EQ(cat.offered("Standard_D2s_v3", "westeurope"), Offered::kNo);  // not listed, not priced
  // Priced in westeurope (page 1's Low Priority row) but absent from list-skus: the
  // subscription cannot deploy it there, whatever the price list says.
  ASSERT_TRUE(cat.price("Standard_D8s_v5", "westeurope", PriceType::kSpot));
  EXPECT_EQ(cat.offered("Standard_D8s_v5", "westeurope"), Offered::kNo);
  EXPECT_EQ(cat.offered("Standard_D2s_v3", "northeurope"), Offered::kUnknown);
  EXPECT_EQ(cat.offered("Standard_D2s_v3", "eastus"), Offered::kYes);  // default price

  // Region filter: restricted and unlisted sizes drop out.
  SizeFilter westeurope;
  westeurope.region = "westeurope";
  std::set<std::string> in_westeurope;
  for (const VmSize* s : cat.sizes(westeurope)) in_westeurope.insert(s->sku);
  for (const char* sku : {"Standard_D4s_v5", "Standard_NC40ads_H100_v5", "Standard_NV6ads_A10_v5",
                          "Standard_E4s_v5", "Standard_D4s_v6"}) {
    EXPECT_TRUE(in_westeurope.count(sku)) << sku;
  }
  EXPECT_FALSE(in_westeurope.count("Standard_M8ms"));
  EXPECT_FALSE(in_westeurope.count("Standard_D2s_v3"));
  EXPECT_FALSE(in_westeurope.count("Standard_D8s_v5"));
  EXPECT_EQ(in_westeurope.size(), 5u);

  // Sizes from the overlay replace and extend the defaults, through the CSV round trip.
  const VmSize* v6 = cat.find_size("Standard_D4s_v6");
  ASSERT_NE(v6, nullptr);
  EXPECT_EQ(v6->series, "Dsv6");
  EXPECT_EQ(v6->quota_family, "standardDSv6Family");
  EXPECT_EQ(cat.sizes().size(), 68u);
  const VmSize* h = cat.find_size("Standard_NC40ads_H100_v5");
  ASSERT_NE(h, nullptr);
  EXPECT_EQ(h->quota_family, "standardNCADSH100v5Family");
  EXPECT_EQ(h->gpu_memory_mib, 96256);
  EXPECT_EQ(h->gpu_model, "NVIDIA H100 PCIe 94GB");
  EXPECT_EQ(h->temp_storage_gib, 3576);
  const VmSize* nv6 = cat.find_size("Standard_NV6ads_A10_v5");
  ASSERT_NE(nv6, nullptr);
  EXPECT_EQ(nv6->gpu_milli, 167);
  EXPECT_EQ(nv6->gpu_memory_mib, 4096);
  const VmSize* d4 = cat.find_size("Standard_D4s_v5");
  ASSERT_NE(d4, nullptr);
  EXPECT_EQ(d4->accelerated_networking, AcceleratedNetworking::kRequired);
  EXPECT_TRUE(d4->hibernation_supported);

  // Zones survive the CSV.
  for (const Availability& a : cat.all_availability()) {
    if (a.sku == "Standard_E4s_v5") {
      EXPECT_EQ(a.zones, (std::vector<std::string>{"1", "2"}));
    }
    if (a.sku == "Standard_M8ms") {
      EXPECT_EQ(a.restriction, "NotAvailableForSubscription");
    }
  }
}

TEST_F(OverlayTest, SecondWriteMerges) {
  std::string dir = (tmp.path() / "merge").string();
  auto first = import_retail_price_pages({fixture("prices/page0.json")}, kToday);
  ASSERT_TRUE(first) << first.error().describe();
  ASSERT_EQ(first->prices.size(), 3u);  // H100 payg, D4s payg, D4s spot
  auto ok = write_overlay(dir, Overlay{skus.sizes, first->prices, skus.availability});
  ASSERT_TRUE(ok) << ok.error().describe();

  // Second write: the same key (D4s_v5 westeurope payg) with a new figure, plus a new row.
  Overlay second;
  second.prices.push_back(price("Standard_D4s_v5", PriceType::kPayg, 240'000,
                                "second import, with \"quotes\", and commas", "2025-01-01"));
  second.prices.push_back(
      price("Standard_D8s_v5", PriceType::kSpot, 55'200, "second import", "2024-03-01"));
  ok = write_overlay(dir, second);
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(files_in(dir),
            (std::set<std::string>{"vm-sizes.csv", "vm-prices.csv", "vm-availability.csv"}));

  // The file holds each key once.
  fs::path prices_csv = fs::path(dir) / "vm-prices.csv";
  auto table = parse_csv(read_text(prices_csv), prices_csv.string());
  ASSERT_TRUE(table) << table.error().describe();
  EXPECT_EQ(table->rows.size(), 4u);

  Catalog overlay_only;
  ok = overlay_only.apply_overlay_dir(dir);
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(overlay_only.all_prices().size(), 4u);
  EXPECT_EQ(overlay_only.sizes().size(), skus.sizes.size());  // first write's sizes kept
  EXPECT_EQ(overlay_only.all_availability().size(), skus.availability.size());  // and availability

  // Earlier rows kept.
  auto h100 = overlay_only.price("Standard_NC40ads_H100_v5", "westeurope", PriceType::kPayg);
  ASSERT_TRUE(h100) << h100.error().describe();
  EXPECT_EQ(h100->usd_per_hour.micros(), 7'872'000);
  EXPECT_EQ(h100->source, kH100PaygSource);
  auto d4_spot = overlay_only.price("Standard_D4s_v5", "westeurope", PriceType::kSpot);
  ASSERT_TRUE(d4_spot) << d4_spot.error().describe();
  EXPECT_EQ(d4_spot->usd_per_hour.micros(), 27'600);
  // Same key replaced.
  auto d4 = overlay_only.price("Standard_D4s_v5", "westeurope", PriceType::kPayg);
  ASSERT_TRUE(d4) << d4.error().describe();
  EXPECT_EQ(d4->usd_per_hour.micros(), 240'000);
  EXPECT_EQ(d4->source, "second import, with \"quotes\", and commas");
  EXPECT_EQ(d4->as_of, "2025-01-01");
  // New row added.
  auto d8 = overlay_only.price("Standard_D8s_v5", "westeurope", PriceType::kSpot);
  ASSERT_TRUE(d8) << d8.error().describe();
  EXPECT_EQ(d8->source, "second import");
}

TEST_F(OverlayTest, WriteIntoAnExistingEmptyDir) {
  Overlay add;
  add.availability = skus.availability;
  auto ok = write_overlay(tmp.str(), add);
  ASSERT_TRUE(ok) << ok.error().describe();
  // Only what has rows is written; no temporary files are left behind.
  EXPECT_EQ(files_in(tmp.path()), (std::set<std::string>{"vm-availability.csv"}));
}

TEST(Overlay, MissingDirIsNotFound) {
  TempDir tmp;
  std::string missing = (tmp.path() / "does-not-exist").string();
  Catalog cat = load_default_or_fail();
  auto ok = cat.apply_overlay_dir(missing);
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, ErrorCode::kNotFound);
  EXPECT_EQ(ok.error().location, missing);
  EXPECT_EQ(cat.all_prices().size(), 490u);  // unchanged
}

TEST(Overlay, FileInsteadOfDirIsNotFound) {
  TempDir tmp;
  fs::path file = tmp.path() / "vm-prices.csv";
  write_text(file, "sku,region,price_type,usd_per_hour,term,source,as_of\n");
  Catalog cat;
  auto ok = cat.apply_overlay_dir(file.string());
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, ErrorCode::kNotFound);
}

TEST(Overlay, EmptyDirIsAnEmptyOverlay) {
  TempDir tmp;
  Catalog cat = load_default_or_fail();
  auto ok = cat.apply_overlay_dir(tmp.str());
  ASSERT_TRUE(ok) << ok.error().describe();
  EXPECT_EQ(cat.all_prices().size(), 490u);
  EXPECT_EQ(cat.sizes().size(), 67u);
}

TEST(Overlay, HandWrittenCrlfPricesApply) {
  TempDir tmp;
  write_text(
      tmp.path() / "vm-prices.csv",
      "sku,region,price_type,usd_per_hour,term,source,as_of\r\n"
      "Standard_D4s_v5,WestEurope,payg_linux,0.23,,\"invoice 2026-10, line 4\",2026-10-01\r\n");
  Catalog cat = load_default_or_fail();
  auto ok = cat.apply_overlay_dir(tmp.str());
  ASSERT_TRUE(ok) << ok.error().describe();
  auto p = cat.price("Standard_D4s_v5", "westeurope", PriceType::kPayg);
  ASSERT_TRUE(p) << p.error().describe();
  EXPECT_EQ(p->usd_per_hour.micros(), 230'000);
  EXPECT_EQ(p->source, "invoice 2026-10, line 4");
  EXPECT_EQ(p->as_of, "2026-10-01");
}

struct CorruptCase {
  const char* name;
  const char* file;
  const char* text;
  int line;
  const char* message_part;
};

class OverlayCorrupt : public testing::TestWithParam<CorruptCase> {};

TEST_P(OverlayCorrupt, NamesFileAndLine) {
  const CorruptCase& c = GetParam();
  TempDir tmp;
  fs::path path = tmp.path() / c.file;
  write_text(path, c.text);
  Catalog cat = load_default_or_fail();
  auto ok = cat.apply_overlay_dir(tmp.str());
  ASSERT_FALSE(ok);
  EXPECT_EQ(ok.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(ok.error().location, path.string() + ":" + std::to_string(c.line));
  EXPECT_NE(ok.error().message.find(c.message_part), std::string::npos) << ok.error().message;

  // Writing into that directory refuses too, and leaves the file as it was.
  Overlay add;
  add.availability.push_back(Availability{"Standard_D4s_v5", "westeurope", {"1"}, "", "test"});
  auto written = write_overlay(tmp.str(), add);
  ASSERT_FALSE(written);
  EXPECT_EQ(written.error().location, path.string() + ":" + std::to_string(c.line));
  EXPECT_EQ(read_text(path), c.text);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, OverlayCorrupt,
    testing::Values(CorruptCase{"PriceNotANumber", "vm-prices.csv",
                                "sku,region,price_type,usd_per_hour,term,source,as_of\n"
                                "Standard_D4s_v5,westeurope,payg_linux,0.23,,s,\n"
                                "Standard_D8s_v5,westeurope,payg_linux,0.4x6,,s,\n",
                                3, "usd_per_hour"},
                    CorruptCase{"PriceRowTooShort", "vm-prices.csv",
                                "sku,region,price_type,usd_per_hour,term,source,as_of\r\n"
                                "Standard_D4s_v5,westeurope,payg_linux,0.23\r\n",
                                2, "row has 4 cells"},
                    CorruptCase{"SizeBadVcpus", "vm-sizes.csv",
                                "sku,series,quota_family,vcpus,memory_gib\nStandard_X,X,f,many,4\n",
                                2, "column 'vcpus'"},
                    CorruptCase{"AvailabilityMissingColumn", "vm-availability.csv",
                                "sku,region,zones\nA,westeurope,1\n", 1,
                                "missing column 'restriction'"}),
    [](const testing::TestParamInfo<CorruptCase>& info) { return std::string(info.param.name); });

}  // namespace
}  // namespace codefleet
