#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <string>
#include <tuple>
#include <vector>

#include <nlohmann/json.hpp>

#include "catalog/import.h"
#include "fixtures.h"

namespace codefleet {
namespace {

using nlohmann::json;
using testing_support::fixture;

constexpr const char* kToday = "2026-11-27";
constexpr const char* kH100Meter = "6f1d2c43-8a5e-4b7f-9c21-3e0d5a7b8c94";
constexpr const char* kD4sMeter = "b3a8f0d2-47c1-4e6b-8d15-92f7a0c3e5d1";
constexpr const char* kD4sSpotMeter = "e71f3a58-2c9b-4d04-9e6a-b5c8d1f2a370";
constexpr const char* kD8sLowPriorityMeter = "8c0e6a23-f4d7-4b19-a35e-7e2b9d0c6f41";

struct Row {
  std::string sku, region, type;
  int64_t micros;
  std::string term, as_of, meter_id, page;
  auto operator<=>(const Row&) const = default;
};

std::ostream& operator<<(std::ostream& os, const Row& r) {
  return os << "{" << r.sku << ", " << r.region << ", " << r.type << ", " << r.micros << ", '"
            << r.term << "', " << r.as_of << ", " << r.meter_id << ", " << r.page << "}";
}

std::string source_of(const std::string& meter_id, const std::string& page) {
  return "Azure Retail Prices API meterId " + meter_id + " (" + page + "), imported " + kToday;
}

// The two fixture pages, imported in order: what each row should become.
std::vector<Row> expected_rows() {
  std::vector<Row> rows = {
      {"Standard_NC40ads_H100_v5", "westeurope", "payg_linux", 7'872'000, "", "2024-03-01",
       kH100Meter, "page0.json"},
      {"Standard_D4s_v5", "westeurope", "payg_linux", 230'000, "", "2024-03-01", kD4sMeter,
       "page0.json"},
      {"Standard_D4s_v5", "westeurope", "spot_linux", 27'600, "", "2024-05-01", kD4sSpotMeter,
       "page0.json"},
      // Legacy "Low Priority" meter → spot.
      {"Standard_D8s_v5", "westeurope", "spot_linux", 55'200, "", "2024-03-01",
       kD8sLowPriorityMeter, "page1.json"},
      // 1182.60438 / 8760 = 0.1350005 → half away from zero → 0.135001.
      {"Standard_D4s_v5", "westeurope", "reservation_1y", 135'001, "1 Year", "2023-11-01",
       kD4sMeter, "page1.json"},
      // 118260.013139 / 26280 = 4.49999...9 + 0.4999... micro → 4.5 (remainder 13139 < 13140).
      {"Standard_NC40ads_H100_v5", "westeurope", "reservation_3y", 4'500'000, "3 Years",
       "2024-03-01", kH100Meter, "page1.json"},
  };
  std::sort(rows.begin(), rows.end());
  return rows;
}

TEST(ImportPrices, BothPagesGiveExactlyTheLinuxVmRows) {
  auto imp = import_retail_price_pages({fixture("prices/page0.json"), fixture("prices/page1.json")},
                                       kToday);
  ASSERT_TRUE(imp) << imp.error().describe();
  EXPECT_EQ(imp->pages, 2);
  EXPECT_EQ(imp->items, 12);
  // The reservation rows' meters appear on page 1; map them by (meter, page) explicitly.
  std::vector<Row> got;
  for (const Price& p : imp->prices) {
    Row r{p.sku, p.region, price_type_name(p.type), p.usd_per_hour.micros(), p.term, p.as_of,
          "",    ""};
    for (const char* meter : {kH100Meter, kD4sMeter, kD4sSpotMeter, kD8sLowPriorityMeter}) {
      for (const char* page : {"page0.json", "page1.json"}) {
        if (p.source == source_of(meter, page)) {
          r.meter_id = meter;
          r.page = page;
        }
      }
    }
    EXPECT_FALSE(r.meter_id.empty())
        << "source does not name a known meterId and page: " << p.source;
    EXPECT_FALSE(p.estimated);
    got.push_back(r);
  }
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, expected_rows());
  EXPECT_TRUE(imp->warnings.empty()) << imp->warnings.front();
}

TEST(ImportPrices, SkippedCounts) {
  auto imp = import_retail_price_pages({fixture("prices/page0.json"), fixture("prices/page1.json")},
                                       kToday);
  ASSERT_TRUE(imp) << imp.error().describe();
  std::map<std::string, int> expected = {
      {"windows", 2},           // "... Dsv5 Series Windows" and "... NCads H100 v5 Series Win"
      {"devtest", 1},           // DevTestConsumption, same meterId as the H100 payg row
      {"zero-price", 1},        // D2s v5 at 0.0
      {"not-a-vm-service", 1},  // Storage
      {"superseded", 1},        // D4s v5 payg effective 2022-08-01, older than page 0's
  };
  EXPECT_EQ(imp->skipped, expected);
  int kept = static_cast<int>(imp->prices.size());
  int skipped = 0;
  for (const auto& [why, n] : imp->skipped) skipped += n;
  EXPECT_EQ(kept + skipped, imp->items);
}

TEST(ImportPrices, PageOrderDoesNotChangeTheResult) {
  auto imp = import_retail_price_pages({fixture("prices/page1.json"), fixture("prices/page0.json")},
                                       kToday);
  ASSERT_TRUE(imp) << imp.error().describe();
  std::vector<Row> got;
  for (const Price& p : imp->prices) {
    got.push_back({p.sku, p.region, price_type_name(p.type), p.usd_per_hour.micros(), p.term,
                   p.as_of, "", ""});
  }
  std::vector<Row> want = expected_rows();
  for (auto& r : want) r.meter_id = r.page = "";
  std::sort(got.begin(), got.end());
  EXPECT_EQ(got, want);
  EXPECT_EQ(imp->skipped.at("superseded"), 1);
}

TEST(ImportPrices, SourceNamesMeterIdPageAndImportDate) {
  auto imp = import_retail_price_pages({fixture("prices/page0.json"), fixture("prices/page1.json")},
                                       kToday);
  ASSERT_TRUE(imp) << imp.error().describe();
  for (const Price& p : imp->prices) {
    EXPECT_NE(p.source.find("meterId "), std::string::npos) << p.source;
    EXPECT_NE(p.source.find(kToday), std::string::npos) << p.source;
    EXPECT_EQ(p.as_of.size(), 10u) << p.as_of;  // YYYY-MM-DD, no time part
  }
  auto h100 = std::find_if(imp->prices.begin(), imp->prices.end(), [](const Price& p) {
    return p.sku == "Standard_NC40ads_H100_v5" && p.type == PriceType::kPayg;
  });
  ASSERT_NE(h100, imp->prices.end());
  EXPECT_EQ(h100->source, source_of(kH100Meter, "page0.json"));
  EXPECT_EQ(h100->as_of, "2024-03-01");
}

TEST(ImportPrices, OnlyFirstPageWarnsAboutNextPageLink) {
  auto imp = import_retail_price_pages({fixture("prices/page0.json")}, kToday);
  ASSERT_TRUE(imp) << imp.error().describe();
  EXPECT_EQ(imp->pages, 1);
  EXPECT_EQ(imp->items, 6);
  ASSERT_EQ(imp->warnings.size(), 1u);
  EXPECT_NE(imp->warnings[0].find("NextPageLink"), std::string::npos) << imp->warnings[0];
  EXPECT_NE(imp->warnings[0].find("$skip=100"), std::string::npos) << imp->warnings[0];
  EXPECT_EQ(imp->prices.size(), 3u);  // H100 payg, D4s payg, D4s spot
}

TEST(ImportPrices, OnlyLastPageDoesNotWarn) {
  auto imp = import_retail_price_pages({fixture("prices/page1.json")}, kToday);
  ASSERT_TRUE(imp) << imp.error().describe();
  EXPECT_TRUE(imp->warnings.empty());
}

// --- rows built in the test, in the API's shape --------------------------------------------

json vm_item(const std::string& arm_sku, const std::string& sku_name, json price,
             const std::string& start = "2024-03-01T00:00:00Z") {
  return json{{"currencyCode", "USD"},         {"tierMinimumUnits", 0.0},
              {"retailPrice", price},          {"unitPrice", price},
              {"armRegionName", "westeurope"}, {"location", "EU West"},
              {"effectiveStartDate", start},   {"meterId", "00000000-0000-0000-0000-000000000001"},
              {"meterName", sku_name},         {"productId", "DZH318Z0C2MM"},
              {"skuId", "DZH318Z0C2MM/00GV"},  {"productName", "Virtual Machines Dsv5 Series"},
              {"skuName", sku_name},           {"serviceName", "Virtual Machines"},
              {"serviceId", "DZH313Z7MMC8"},   {"serviceFamily", "Compute"},
              {"unitOfMeasure", "1 Hour"},     {"type", "Consumption"},
              {"isPrimaryMeterRegion", true},  {"armSkuName", arm_sku}};
}

json page_of(json items) {
  return json{{"BillingCurrency", "USD"},       {"CustomerEntityId", "Default"},
              {"CustomerEntityType", "Retail"}, {"Items", items},
              {"NextPageLink", nullptr},        {"Count", items.size()}};
}

Result<PriceImport> import_one(const json& page) {
  return import_retail_price_pages({InputFile{"p.json", page.dump(2)}}, kToday);
}

struct ReservationCase {
  const char* name;
  json total;
  const char* term;
  int64_t hourly_micros;
  PriceType type;
};

class ImportReservation : public testing::TestWithParam<ReservationCase> {};

TEST_P(ImportReservation, HourlyIsTermTotalOverHoursRoundedHalfAway) {
  const ReservationCase& c = GetParam();
  json item = vm_item("Standard_D4s_v5", "D4s v5", c.total);
  item["type"] = "Reservation";
  item["reservationTerm"] = c.term;
  auto imp = import_one(page_of(json::array({item})));
  ASSERT_TRUE(imp) << imp.error().describe();
  ASSERT_EQ(imp->prices.size(), 1u);
  EXPECT_EQ(imp->prices[0].type, c.type);
  EXPECT_EQ(imp->prices[0].term, c.term);
  EXPECT_EQ(imp->prices[0].usd_per_hour.micros(), c.hourly_micros);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ImportReservation,
    testing::Values(
        ReservationCase{"OneYearExact", 8760, "1 Year", 1'000'000, PriceType::kReservation1y},
        ReservationCase{"OneYearHalfRoundsUp", 8760.00438, "1 Year", 1'000'001,
                        PriceType::kReservation1y},
        ReservationCase{"OneYearBelowHalfRoundsDown", 8760.004379, "1 Year", 1'000'000,
                        PriceType::kReservation1y},
        // M8ms eastus in data/catalog/SOURCES.md: 7740 → 0.883562, 11297 → 0.429871.
        ReservationCase{"M8msOneYear", 7740, "1 Year", 883'562, PriceType::kReservation1y},
        ReservationCase{"M8msThreeYears", 11297, "3 Years", 429'871, PriceType::kReservation3y},
        ReservationCase{"ThreeYearsHalfRoundsUp", 26280.01314, "3 Years", 1'000'001,
                        PriceType::kReservation3y},
        ReservationCase{"ThreeYearsBelowHalfRoundsDown", 26280.013139, "3 Years", 1'000'000,
                        PriceType::kReservation3y}),
    [](const testing::TestParamInfo<ReservationCase>& info) {
      return std::string(info.param.name);
    });

TEST(ImportPrices, UnknownReservationTermIsSkipped) {
  json item = vm_item("Standard_D4s_v5", "D4s v5", 1000);
  item["type"] = "Reservation";
  item["reservationTerm"] = "5 Years";
  auto imp = import_one(page_of(json::array({item})));
  ASSERT_TRUE(imp) << imp.error().describe();
  EXPECT_TRUE(imp->prices.empty());
  EXPECT_EQ(imp->skipped.at("unknown-reservation-term"), 1);
}

struct SpotCase {
  const char* name;
  const char* sku_name;
  const char* meter_name;
  PriceType type;
};

class ImportSpot : public testing::TestWithParam<SpotCase> {};

TEST_P(ImportSpot, Classifies) {
  json item = vm_item("Standard_D8s_v5", GetParam().sku_name, 0.05);
  item["meterName"] = GetParam().meter_name;
  auto imp = import_one(page_of(json::array({item})));
  ASSERT_TRUE(imp) << imp.error().describe();
  ASSERT_EQ(imp->prices.size(), 1u);
  EXPECT_EQ(imp->prices[0].type, GetParam().type);
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ImportSpot,
    testing::Values(
        SpotCase{"Payg", "D8s v5", "D8s v5", PriceType::kPayg},
        SpotCase{"SpotInSkuName", "D8s v5 Spot", "D8s v5", PriceType::kSpot},
        SpotCase{"SpotInMeterName", "D8s v5", "D8s v5 Spot", PriceType::kSpot},
        SpotCase{"LowPriorityInSkuName", "D8s v5 Low Priority", "D8s v5", PriceType::kSpot},
        SpotCase{"LowPriorityInMeterName", "D8s v5", "D8s v5 Low Priority", PriceType::kSpot}),
    [](const testing::TestParamInfo<SpotCase>& info) { return std::string(info.param.name); });

TEST(ImportPrices, SpotMeterBeatsLowPriorityInEitherOrder) {
  json spot = vm_item("Standard_D8s_v5", "D8s v5 Spot", 0.0461, "2023-01-01T00:00:00Z");
  json low = vm_item("Standard_D8s_v5", "D8s v5 Low Priority", 0.0552, "2024-06-01T00:00:00Z");
  for (const json& items : {json::array({spot, low}), json::array({low, spot})}) {
    auto imp = import_one(page_of(items));
    ASSERT_TRUE(imp) << imp.error().describe();
    ASSERT_EQ(imp->prices.size(), 1u);
    EXPECT_EQ(imp->prices[0].type, PriceType::kSpot);
    EXPECT_EQ(imp->prices[0].usd_per_hour.micros(), 46'100) << items.dump();
    EXPECT_EQ(imp->prices[0].as_of, "2023-01-01");
    EXPECT_EQ(imp->skipped.at("superseded"), 1);
  }
}

TEST(ImportPrices, NewestEffectiveDateWinsInEitherOrder) {
  json older = vm_item("Standard_D4s_v5", "D4s v5", 0.218, "2022-08-01T00:00:00Z");
  json newer = vm_item("Standard_D4s_v5", "D4s v5", 0.23, "2024-03-01T00:00:00Z");
  for (const json& items : {json::array({older, newer}), json::array({newer, older})}) {
    auto imp = import_one(page_of(items));
    ASSERT_TRUE(imp) << imp.error().describe();
    ASSERT_EQ(imp->prices.size(), 1u);
    EXPECT_EQ(imp->prices[0].usd_per_hour.micros(), 230'000);
    EXPECT_EQ(imp->prices[0].as_of, "2024-03-01");
  }
}

struct SkipCase {
  const char* name;
  const char* field;
  json value;
  const char* reason;
};

class ImportSkip : public testing::TestWithParam<SkipCase> {};

TEST_P(ImportSkip, CountsTheReason) {
  json item = vm_item("Standard_D4s_v5", "D4s v5", 0.23);
  item[GetParam().field] = GetParam().value;
  auto imp = import_one(page_of(json::array({item})));
  ASSERT_TRUE(imp) << imp.error().describe();
  EXPECT_TRUE(imp->prices.empty());
  EXPECT_EQ(imp->skipped, (std::map<std::string, int>{{GetParam().reason, 1}}));
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ImportSkip,
    testing::Values(
        SkipCase{"DevTest", "type", "DevTestConsumption", "devtest"},
        SkipCase{"OtherType", "type", "SavingsPlan", "other-price-type"},
        SkipCase{"Storage", "serviceName", "Storage", "not-a-vm-service"},
        SkipCase{"Windows", "productName", "Virtual Machines Dsv5 Series Windows", "windows"},
        SkipCase{"WinSuffix", "productName", "Virtual Machines NCads H100 v5 Series Win",
                 "windows"},
        SkipCase{"CloudServices", "productName", "Cloud Services Dv5 Series", "cloud-services"},
        SkipCase{"NoArmSku", "armSkuName", "", "no-arm-sku-or-region"},
        SkipCase{"NoRegion", "armRegionName", "", "no-arm-sku-or-region"},
        SkipCase{"NotHourly", "unitOfMeasure", "1/Month", "not-hourly"},
        SkipCase{"ZeroInteger", "retailPrice", 0, "zero-price"},
        SkipCase{"ZeroDouble", "retailPrice", 0.0, "zero-price"}),
    [](const testing::TestParamInfo<SkipCase>& info) { return std::string(info.param.name); });

TEST(ImportPrices, WindowsIsNotMatchedInsideAWord) {
  // " Win" only counts at the end of productName.
  json item = vm_item("Standard_D4s_v5", "D4s v5", 0.23);
  item["productName"] = "Virtual Machines Dsv5 Series Winter Edition";
  auto imp = import_one(page_of(json::array({item})));
  ASSERT_TRUE(imp) << imp.error().describe();
  EXPECT_EQ(imp->prices.size(), 1u);
}

struct PriceTextCase {
  const char* name;
  json price;
  int64_t micros;
};

class ImportPriceText : public testing::TestWithParam<PriceTextCase> {};

TEST_P(ImportPriceText, ExactMicros) {
  auto imp =
      import_one(page_of(json::array({vm_item("Standard_D4s_v5", "D4s v5", GetParam().price)})));
  ASSERT_TRUE(imp) << imp.error().describe();
  ASSERT_EQ(imp->prices.size(), 1u);
  EXPECT_EQ(imp->prices[0].usd_per_hour.micros(), GetParam().micros);
}

INSTANTIATE_TEST_SUITE_P(Cases, ImportPriceText,
                         testing::Values(PriceTextCase{"Decimal", 0.192, 192'000},
                                         PriceTextCase{"Integer", 7, 7'000'000},
                                         PriceTextCase{"ManyDigits", 6.98, 6'980'000},
                                         PriceTextCase{"SixDecimals", 0.027416, 27'416},
                                         PriceTextCase{"SeventhDecimalRounds", 0.1234565, 123'457},
                                         PriceTextCase{"Exponent", 2e-05, 20}),
                         [](const testing::TestParamInfo<PriceTextCase>& info) {
                           return std::string(info.param.name);
                         });

TEST(ImportPrices, MalformedJsonNamesFileLineAndColumn) {
  std::string text = "{\n  \"Items\": [\n    {\"type\": \"Consumption\",,}\n  ]\n}\n";
  auto imp = import_retail_price_pages({InputFile{"bad.json", text}}, kToday);
  ASSERT_FALSE(imp);
  EXPECT_EQ(imp.error().code, ErrorCode::kInvalidInput);
  // Line 3 is `    {"type": "Consumption",,}`: the second comma is column 28.
  EXPECT_EQ(imp.error().location, "bad.json:3:28");
  EXPECT_NE(imp.error().message.find("not valid JSON"), std::string::npos) << imp.error().message;
}

// Found by fuzz/prices_fuzz: a number too large for a double is nlohmann's out_of_range,
// not parse_error, and used to escape the importer (std::terminate).
TEST(ImportPrices, NumberTooLargeIsAnInputError) {
  for (const char* text : {R"({"Items": [{"retailPrice": -1e400}]})", "[1e400]", "1e999"}) {
    auto imp = import_retail_price_pages({InputFile{"big.json", text}}, kToday);
    ASSERT_FALSE(imp) << text;
    EXPECT_EQ(imp.error().code, ErrorCode::kInvalidInput) << text;
    EXPECT_EQ(imp.error().location, "big.json") << text;
    EXPECT_NE(imp.error().message.find("not valid JSON"), std::string::npos) << imp.error().message;
  }
}

TEST(ImportPrices, TruncatedPageNamesFileLineAndColumn) {
  std::string text =
      testing_support::read_text(std::string(CODEFLEET_FIXTURES) + "/prices/page0.json");
  text.resize(text.find("\"Count\""));  // cut off mid-object
  auto imp = import_retail_price_pages({InputFile{"page0.json", text}}, kToday);
  ASSERT_FALSE(imp);
  EXPECT_EQ(imp.error().code, ErrorCode::kInvalidInput);
  EXPECT_TRUE(imp.error().location.rfind("page0.json:", 0) == 0) << imp.error().location;
  EXPECT_EQ(std::count(imp.error().location.begin(), imp.error().location.end(), ':'), 2)
      << imp.error().location;
}

TEST(ImportPrices, MalformedSecondPageNamesThatPage) {
  auto imp = import_retail_price_pages(
      {fixture("prices/page0.json"), InputFile{"page1.json", "{\"Items\": [}"}}, kToday);
  ASSERT_FALSE(imp);
  EXPECT_EQ(imp.error().location, "page1.json:1:12");
}

struct ShapeCase {
  const char* name;
  const char* text;
};

class ImportPageShape : public testing::TestWithParam<ShapeCase> {};

TEST_P(ImportPageShape, IsRejectedClearly) {
  auto imp = import_retail_price_pages({InputFile{"odd.json", GetParam().text}}, kToday);
  ASSERT_FALSE(imp);
  EXPECT_EQ(imp.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(imp.error().location, "odd.json");
  EXPECT_NE(imp.error().message.find("not a Retail Prices API page"), std::string::npos)
      << imp.error().message;
  EXPECT_NE(imp.error().message.find("'Items' array"), std::string::npos) << imp.error().message;
}

INSTANTIATE_TEST_SUITE_P(
    Cases, ImportPageShape,
    testing::Values(
        ShapeCase{"NoItems", R"({"BillingCurrency": "USD", "NextPageLink": null, "Count": 0})"},
        ShapeCase{"ItemsNull", R"({"BillingCurrency": "USD", "Items": null})"},
        ShapeCase{"ItemsObject", R"({"BillingCurrency": "USD", "Items": {}})"},
        ShapeCase{"Array", R"([{"retailPrice": 1}])"}, ShapeCase{"Null", "null"},
        ShapeCase{"ListSkusOutput", R"({"value": [{"resourceType": "virtualMachines"}]})"}),
    [](const testing::TestParamInfo<ShapeCase>& info) { return std::string(info.param.name); });

TEST(ImportPrices, EmptyItemsIsAnEmptyImport) {
  auto imp = import_one(page_of(json::array()));
  ASSERT_TRUE(imp) << imp.error().describe();
  EXPECT_EQ(imp->pages, 1);
  EXPECT_EQ(imp->items, 0);
  EXPECT_TRUE(imp->prices.empty());
}

TEST(ImportPrices, RetailPriceAsStringNamesFieldAndItem) {
  json doc = json::parse(fixture("prices/page0.json").text);
  doc["Items"][1]["retailPrice"] = "0.23";
  auto imp = import_retail_price_pages({InputFile{"page0.json", doc.dump(2)}}, kToday);
  ASSERT_FALSE(imp);
  EXPECT_EQ(imp.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(imp.error().message.find("retailPrice"), std::string::npos) << imp.error().message;
  EXPECT_NE(imp.error().location.find("page0.json"), std::string::npos) << imp.error().location;
  EXPECT_NE(imp.error().location.find("Items[1]"), std::string::npos) << imp.error().location;
}

TEST(ImportPrices, StringFieldOfWrongTypeNamesFieldAndItem) {
  json doc = json::parse(fixture("prices/page1.json").text);
  doc["Items"][3]["armSkuName"] = 42;
  auto imp = import_retail_price_pages({InputFile{"page1.json", doc.dump(2)}}, kToday);
  ASSERT_FALSE(imp);
  EXPECT_EQ(imp.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(imp.error().message.find("'armSkuName'"), std::string::npos) << imp.error().message;
  EXPECT_NE(imp.error().location.find("Items[3]"), std::string::npos) << imp.error().location;
}

TEST(ImportPrices, ItemThatIsNotAnObject) {
  auto imp = import_one(page_of(json::array({vm_item("Standard_D4s_v5", "D4s v5", 0.23), "oops"})));
  ASSERT_FALSE(imp);
  EXPECT_EQ(imp.error().location, "p.json: Items[1]");
}

TEST(ImportPrices, NonUsdBillingCurrencyIsRejected) {
  json doc = json::parse(fixture("prices/page0.json").text);
  doc["BillingCurrency"] = "EUR";
  auto imp = import_retail_price_pages({InputFile{"page0.json", doc.dump(2)}}, kToday);
  ASSERT_FALSE(imp);
  EXPECT_EQ(imp.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(imp.error().message.find("EUR"), std::string::npos) << imp.error().message;
  EXPECT_NE(imp.error().message.find("USD"), std::string::npos) << imp.error().message;
  EXPECT_NE(imp.error().location.find("page0.json"), std::string::npos) << imp.error().location;
}

TEST(ImportPrices, NonUsdItemCurrencyIsRejected) {
  json item = vm_item("Standard_D4s_v5", "D4s v5", 0.21);
  item["currencyCode"] = "EUR";
  auto imp = import_one(page_of(json::array({item})));
  ASSERT_FALSE(imp);
  EXPECT_EQ(imp.error().code, ErrorCode::kInvalidInput);
  EXPECT_NE(imp.error().message.find("EUR"), std::string::npos) << imp.error().message;
  EXPECT_EQ(imp.error().location, "p.json: Items[0]");
}

TEST(ImportPrices, NegativePriceIsRejected) {
  auto imp = import_one(page_of(json::array({vm_item("Standard_D4s_v5", "D4s v5", -0.23)})));
  ASSERT_FALSE(imp);
  EXPECT_EQ(imp.error().code, ErrorCode::kInvalidInput);
  EXPECT_EQ(imp.error().location, "p.json: Items[0]");
}

TEST(ImportPrices, RegionIsLowerCased) {
  json item = vm_item("Standard_D4s_v5", "D4s v5", 0.23);
  item["armRegionName"] = "WestEurope";
  auto imp = import_one(page_of(json::array({item})));
  ASSERT_TRUE(imp) << imp.error().describe();
  ASSERT_EQ(imp->prices.size(), 1u);
  EXPECT_EQ(imp->prices[0].region, "westeurope");
}

TEST(TextPosition, CountsLinesAndColumns) {
  EXPECT_EQ(text_position("f", "abc", 0), "f:1:1");
  EXPECT_EQ(text_position("f", "abc", 2), "f:1:3");
  EXPECT_EQ(text_position("f", "ab\ncd", 3), "f:2:1");
  EXPECT_EQ(text_position("f", "ab\ncd", 4), "f:2:2");
  EXPECT_EQ(text_position("f", "ab\n", 100), "f:2:1");  // past the end: the end
}

}  // namespace
}  // namespace codefleet
