#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "catalog/import.h"
#include "catalog/json_util.h"
#include "core/text.h"

namespace codefleet {

using nlohmann::json;

std::string text_position(const std::string& file, const std::string& text, size_t byte_offset) {
  int line = 1, col = 1;
  for (size_t i = 0; i < text.size() && i < byte_offset; ++i) {
    if (text[i] == '\n') {
      ++line;
      col = 1;
    } else {
      ++col;
    }
  }
  return fmt::format("{}:{}:{}", file, line, col);
}

namespace {

// retailPrice as exact decimal text: the JSON number's own digits, never via double.
Result<Money> price_field(const json& item, const std::string& where) {
  auto it = item.find("retailPrice");
  if (it == item.end()) it = item.find("unitPrice");
  if (it == item.end() || !it->is_number()) {
    return make_error(ErrorCode::kInvalidInput, "field 'retailPrice' must be a number", where);
  }
  std::string text = it->dump();  // shortest round-trip text of the number
  if (text.find('e') != std::string::npos || text.find('E') != std::string::npos) {
    return Money::from_micros(static_cast<int64_t>(it->get<double>() * Money::kMicrosPerUsd + 0.5));
  }
  return Money::parse(text);
}

bool is_windows(const std::string& product_name) {
  std::string l = to_lower(product_name);
  return l.find("windows") != std::string::npos ||
         (l.size() >= 4 && l.compare(l.size() - 4, 4, " win") == 0);
}

}  // namespace

Result<PriceImport> import_retail_price_pages(const std::vector<InputFile>& pages,
                                              const std::string& imported_on) {
  PriceImport out;
  std::map<std::string, size_t> index;       // sku|region|type → position in out.prices
  std::map<std::string, std::string> start;  // same key → effectiveStartDate kept
  std::map<std::string, bool> low_priority;  // same key → kept row is a legacy Low Priority meter
  std::string last_next_link;                // the NextPageLink of the last page given
  for (const auto& page : pages) {
    auto parsed = json_util::parse_document(page.name, page.text);
    if (!parsed) return tl::unexpected(parsed.error());
    json doc = std::move(*parsed);
    if (!doc.is_object() || !doc.contains("Items") || !doc["Items"].is_array()) {
      return make_error(ErrorCode::kInvalidInput,
                        "not a Retail Prices API page: expected an object with an 'Items' array",
                        page.name);
    }
    ++out.pages;
    if (doc.contains("BillingCurrency") && doc["BillingCurrency"].is_string() &&
        doc["BillingCurrency"] != "USD") {
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("prices are in {}; CodeFleet keeps USD only (request the pages "
                                    "without currencyCode, or with currencyCode='USD')",
                                    doc["BillingCurrency"].get<std::string>()),
                        page.name + ": BillingCurrency");
    }
    last_next_link = doc.contains("NextPageLink") && doc["NextPageLink"].is_string()
                         ? doc["NextPageLink"].get<std::string>()
                         : "";
    const json& items = doc["Items"];
    for (size_t i = 0; i < items.size(); ++i) {
      const json& item = items[i];
      std::string where = fmt::format("{}: Items[{}]", page.name, i);
      if (!item.is_object()) {
        return make_error(ErrorCode::kInvalidInput, "item is not an object", where);
      }
      ++out.items;
      auto type = json_util::string_field(item, "type", where);
      auto service = json_util::string_field(item, "serviceName", where);
      auto product = json_util::string_field(item, "productName", where);
      auto sku_name = json_util::string_field(item, "skuName", where);
      auto meter = json_util::string_field(item, "meterName", where);
      auto arm_sku = json_util::string_field(item, "armSkuName", where);
      auto region = json_util::string_field(item, "armRegionName", where);
      auto unit = json_util::string_field(item, "unitOfMeasure", where);
      auto term = json_util::string_field(item, "reservationTerm", where);
      auto currency = json_util::string_field(item, "currencyCode", where);
      auto effective = json_util::string_field(item, "effectiveStartDate", where);
      auto meter_id = json_util::string_field(item, "meterId", where);
      for (auto* r : {&type, &service, &product, &sku_name, &meter, &arm_sku, &region, &unit, &term,
                      &currency, &effective, &meter_id}) {
        if (!*r) return tl::unexpected(r->error());
      }
      auto skip = [&](const char* why) { ++out.skipped[why]; };
      if (*type == "DevTestConsumption") {
        skip("devtest");
        continue;
      }
      if (*type != "Consumption" && *type != "Reservation") {
        skip("other-price-type");
        continue;
      }
      if (*service != "Virtual Machines") {
        skip("not-a-vm-service");
        continue;
      }
      if (icontains(*product, "Cloud Services")) {
        skip("cloud-services");
        continue;
      }
      if (is_windows(*product)) {
        skip("windows");
        continue;
      }
      if (arm_sku->empty() || region->empty()) {
        skip("no-arm-sku-or-region");
        continue;
      }
      if (!currency->empty() && *currency != "USD") {
        return make_error(ErrorCode::kInvalidInput,
                          fmt::format("currencyCode is {}; CodeFleet keeps USD only", *currency),
                          where);
      }
      auto price = price_field(item, where);
      if (!price) return tl::unexpected(price.error());
      if (price->micros() < 0) {
        return make_error(ErrorCode::kInvalidInput, "retailPrice is negative", where);
      }
      if (price->micros() == 0) {
        skip("zero-price");
        continue;
      }
      Price p;
      p.sku = *arm_sku;
      p.region = to_lower(*region);
      if (*type == "Reservation") {
        int64_t hours;
        if (*term == "1 Year") {
          p.type = PriceType::kReservation1y;
          hours = 8760;
        } else if (*term == "3 Years") {
          p.type = PriceType::kReservation3y;
          hours = 26280;
        } else {
          skip("unknown-reservation-term");
          continue;
        }
        p.term = *term;
        p.usd_per_hour = price->mul_div(1, hours);
      } else {
        if (*unit != "1 Hour") {
          skip("not-hourly");
          continue;
        }
        bool spot = icontains(*sku_name, "Spot") || icontains(*meter, "Spot") ||
                    icontains(*sku_name, "Low Priority") || icontains(*meter, "Low Priority");
        p.type = spot ? PriceType::kSpot : PriceType::kPayg;
        p.usd_per_hour = *price;
      }
      p.as_of = effective->substr(0, 10);
      p.source = fmt::format("Azure Retail Prices API meterId {} ({}), imported {}", *meter_id,
                             page.name, imported_on);
      std::string key = to_lower(p.sku) + "|" + p.region + "|" + price_type_name(p.type);
      bool is_low_priority =
          icontains(*sku_name, "Low Priority") || icontains(*meter, "Low Priority");
      auto found = index.find(key);
      if (found == index.end()) {
        index[key] = out.prices.size();
        start[key] = *effective;
        low_priority[key] = is_low_priority;
        out.prices.push_back(p);
      } else {
        // Legacy "Low Priority" and current "Spot" meters, or older effective dates, can
        // both appear: a Spot meter beats Low Priority; otherwise the newest date wins.
        bool better = low_priority[key] && !is_low_priority;
        bool same_kind = low_priority[key] == is_low_priority;
        if (better || (same_kind && *effective > start[key])) {
          out.prices[found->second] = p;
          start[key] = *effective;
          low_priority[key] = is_low_priority;
        }
        skip("superseded");
      }
    }
  }
  // Pages are given in order; a last page that still points to a next one means the
  // import stops short of the end of the result set.
  if (!last_next_link.empty()) {
    out.warnings.push_back(
        fmt::format("the last page given has a NextPageLink ({}): rows after it were not imported; "
                    "fetch and pass every page "
                    "until NextPageLink is null",
                    last_next_link));
  }
  return out;
}

}  // namespace codefleet
