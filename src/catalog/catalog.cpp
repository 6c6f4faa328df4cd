#include "catalog/catalog.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <sstream>

#include <fmt/format.h>

#include "catalog/csv.h"
#include "core/text.h"

namespace codefleet {

const char* price_type_name(PriceType t) {
  switch (t) {
    case PriceType::kPayg:
      return "payg_linux";
    case PriceType::kSpot:
      return "spot_linux";
    case PriceType::kReservation1y:
      return "reservation_1y";
    case PriceType::kReservation3y:
      return "reservation_3y";
  }
  return "payg_linux";
}

std::optional<PriceType> parse_price_type(std::string_view s) {
  std::string l = to_lower(s);
  if (l == "payg_linux" || l == "payg") return PriceType::kPayg;
  if (l == "spot_linux" || l == "spot") return PriceType::kSpot;
  if (l == "reservation_1y") return PriceType::kReservation1y;
  if (l == "reservation_3y") return PriceType::kReservation3y;
  return std::nullopt;
}

namespace {

std::string where(const CsvTable& t, const CsvRow& row) {
  return fmt::format("{}:{}", t.file, row.line);
}

Result<int64_t> int_cell(const CsvTable& t, const CsvRow& row, const char* col, int64_t scale = 1,
                         bool allow_empty = true) {
  const std::string& v = row.get(col);
  if (v.empty()) {
    if (allow_empty) return 0;
    return make_error(ErrorCode::kInvalidInput, fmt::format("column '{}' is empty", col),
                      where(t, row));
  }
  auto n = parse_scaled_decimal(v, scale);
  if (!n || *n < 0) {
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("column '{}': '{}' is not a non-negative number", col, v),
                      where(t, row));
  }
  return *n;
}

Result<bool> bool_cell(const CsvTable& t, const CsvRow& row, const char* col) {
  std::string v = to_lower(row.get(col));
  if (v == "true" || v == "required") return true;
  if (v == "false" || v.empty()) return false;
  return make_error(ErrorCode::kInvalidInput,
                    fmt::format("column '{}': '{}' is not true/false", col, row.get(col)),
                    where(t, row));
}

Result<std::string> read_file(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot read file", p.string());
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::string gib_text(int64_t mib) {
  if (mib % kMibPerGib == 0) return std::to_string(mib / kMibPerGib);
  return Money::from_micros(mib * Money::kMicrosPerUsd / kMibPerGib).to_string();
}

}  // namespace

Result<void> Catalog::add_sizes_csv(std::string_view text, const std::string& file) {
  auto table = parse_csv(text, file, {"sku", "vcpus", "memory_gib", "quota_family"});
  if (!table) return tl::unexpected(table.error());
  for (const auto& row : table->rows) {
    VmSize s;
    s.sku = row.get("sku");
    if (s.sku.empty()) {
      return make_error(ErrorCode::kInvalidInput, "column 'sku' is empty", where(*table, row));
    }
    s.series = row.get("series");
    s.quota_family = row.get("quota_family");
    auto vcpus = int_cell(*table, row, "vcpus", 1, false);
    auto mem = int_cell(*table, row, "memory_gib", kMibPerGib, false);
    auto gpus = int_cell(*table, row, "gpus", kMilliPerGpu);
    auto gpu_mem = int_cell(*table, row, "gpu_memory_gib", kMibPerGib);
    auto temp = int_cell(*table, row, "temp_storage_gib");
    auto disks = int_cell(*table, row, "max_data_disks");
    auto premium = bool_cell(*table, row, "premium_storage");
    auto accel = bool_cell(*table, row, "accelerated_networking");
    auto hib = bool_cell(*table, row, "hibernation_supported");
    for (const Error* e : {vcpus ? nullptr : &vcpus.error(), mem ? nullptr : &mem.error(),
                           gpus ? nullptr : &gpus.error(), gpu_mem ? nullptr : &gpu_mem.error(),
                           temp ? nullptr : &temp.error(), disks ? nullptr : &disks.error(),
                           premium ? nullptr : &premium.error(), accel ? nullptr : &accel.error(),
                           hib ? nullptr : &hib.error()}) {
      if (e) return tl::unexpected(*e);
    }
    s.vcpus = *vcpus;
    s.memory_mib = *mem;
    s.gpu_milli = *gpus;
    s.gpu_model = row.get("gpu_model");
    s.gpu_memory_mib = *gpu_mem;
    s.temp_storage_gib = *temp;
    s.max_data_disks = *disks;
    s.premium_storage = *premium;
    s.accelerated_networking =
        to_lower(row.get("accelerated_networking")) == "required"
            ? AcceleratedNetworking::kRequired
            : (*accel ? AcceleratedNetworking::kYes : AcceleratedNetworking::kNo);
    s.hibernation_supported = *hib;
    s.source = row.get("source");
    upsert(s);
  }
  return {};
}

Result<void> Catalog::add_prices_csv(std::string_view text, const std::string& file) {
  auto table = parse_csv(text, file, {"sku", "region", "price_type", "usd_per_hour", "source"});
  if (!table) return tl::unexpected(table.error());
  for (const auto& row : table->rows) {
    Price p;
    p.sku = row.get("sku");
    p.region = to_lower(row.get("region"));
    if (p.sku.empty() || p.region.empty()) {
      return make_error(ErrorCode::kInvalidInput, "columns 'sku' and 'region' must not be empty",
                        where(*table, row));
    }
    auto type = parse_price_type(row.get("price_type"));
    if (!type) {
      return make_error(
          ErrorCode::kInvalidInput,
          fmt::format("column 'price_type': '{}' is not one of payg_linux, spot_linux, "
                      "reservation_1y, reservation_3y",
                      row.get("price_type")),
          where(*table, row));
    }
    p.type = *type;
    auto usd = Money::parse(row.get("usd_per_hour"));
    if (!usd || usd->micros() <= 0) {
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("column 'usd_per_hour': '{}' is not a positive amount",
                                    row.get("usd_per_hour")),
                        where(*table, row));
    }
    p.usd_per_hour = *usd;
    p.term = row.get("term");
    p.source = row.get("source");
    p.as_of = row.get("as_of");
    if (p.source.empty()) {
      return make_error(ErrorCode::kInvalidInput, "column 'source' is empty: every price needs one",
                        where(*table, row));
    }
    upsert(p);
  }
  return {};
}

Result<void> Catalog::add_availability_csv(std::string_view text, const std::string& file) {
  auto table = parse_csv(text, file, {"sku", "region", "zones", "restriction", "source"});
  if (!table) return tl::unexpected(table.error());
  for (const auto& row : table->rows) {
    Availability a;
    a.sku = row.get("sku");
    a.region = to_lower(row.get("region"));
    if (a.sku.empty() || a.region.empty()) {
      return make_error(ErrorCode::kInvalidInput, "columns 'sku' and 'region' must not be empty",
                        where(*table, row));
    }
    for (auto& z : split(row.get("zones"), ' ')) {
      if (!z.empty()) a.zones.push_back(z);
    }
    a.restriction = row.get("restriction");
    a.source = row.get("source");
    upsert(a);
  }
  return {};
}

Result<void> Catalog::apply_overlay_dir(const std::string& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::is_directory(dir, ec)) {
    return make_error(ErrorCode::kNotFound, "catalog directory does not exist", dir);
  }
  struct Part {
    const char* name;
    Result<void> (Catalog::*add)(std::string_view, const std::string&);
  };
  for (Part part : {Part{"vm-sizes.csv", &Catalog::add_sizes_csv},
                    Part{"vm-prices.csv", &Catalog::add_prices_csv},
                    Part{"vm-availability.csv", &Catalog::add_availability_csv}}) {
    fs::path p = fs::path(dir) / part.name;
    if (!fs::exists(p, ec)) continue;
    auto text = read_file(p);
    if (!text) return tl::unexpected(text.error());
    auto ok = (this->*part.add)(*text, p.string());
    if (!ok) return ok;
  }
  return {};
}

void Catalog::upsert(const VmSize& size) {
  for (auto& s : sizes_) {
    if (iequals(s.sku, size.sku)) {
      s = size;
      return;
    }
  }
  sizes_.push_back(size);
}

void Catalog::upsert(const Price& price) {
  std::string key = to_lower(price.sku) + "|" + price.region + "|" + price_type_name(price.type);
  auto it = price_index_.find(key);
  if (it != price_index_.end()) {
    prices_[it->second] = price;
    return;
  }
  price_index_[key] = prices_.size();
  prices_.push_back(price);
}

void Catalog::upsert(const Availability& a) {
  for (auto& x : availability_) {
    if (iequals(x.sku, a.sku) && x.region == a.region) {
      x = a;
      return;
    }
  }
  availability_.push_back(a);
}

const VmSize* Catalog::find_size(std::string_view sku) const {
  for (const auto& s : sizes_) {
    if (iequals(s.sku, sku)) return &s;
  }
  return nullptr;
}

std::vector<const VmSize*> Catalog::sizes(const SizeFilter& f) const {
  std::vector<const VmSize*> out;
  for (const auto& s : sizes_) {
    if (f.family && !iequals(s.series, *f.family) && !iequals(s.quota_family, *f.family)) continue;
    if (s.gpu_milli < f.min_gpu_milli || s.vcpus < f.min_vcpus || s.memory_mib < f.min_memory_mib)
      continue;
    if (f.hibernation_only && !s.hibernation_supported) continue;
    if (f.region) {
      Offered o = offered(s.sku, *f.region);
      if (o == Offered::kNo || o == Offered::kRestricted) continue;
    }
    out.push_back(&s);
  }
  return out;
}

std::vector<Price> Catalog::prices(std::string_view sku, std::optional<std::string> region) const {
  std::vector<Price> out;
  std::string r = region ? to_lower(*region) : "";
  for (const auto& p : prices_) {
    if (iequals(p.sku, sku) && (!region || p.region == r)) out.push_back(p);
  }
  std::sort(out.begin(), out.end(), [](const Price& a, const Price& b) {
    return std::tie(a.region, a.type) < std::tie(b.region, b.type);
  });
  return out;
}

bool Catalog::knows_region(std::string_view region) const {
  std::string r = to_lower(region);
  for (const auto& p : prices_) {
    if (p.region == r) return true;
  }
  for (const auto& a : availability_) {
    if (a.region == r) return true;
  }
  return false;
}

Offered Catalog::offered(std::string_view sku, std::string_view region) const {
  std::string r = to_lower(region);
  bool region_has_availability = false;
  for (const auto& a : availability_) {
    if (a.region != r) continue;
    region_has_availability = true;
    if (iequals(a.sku, sku)) return a.restriction.empty() ? Offered::kYes : Offered::kRestricted;
  }
  // A list-skus import for the region lists every size the subscription can deploy
  // there: absent from it means not offered, whatever the price list says.
  if (region_has_availability) return Offered::kNo;
  // Without one, a price row shows the size is sold there; a missing price proves
  // nothing (price sources skip sizes), so: unknown.
  for (const auto& p : prices_) {
    if (p.region == r && iequals(p.sku, sku)) return Offered::kYes;
  }
  return Offered::kUnknown;
}

std::string missing_price_hint(std::string_view sku, std::string_view region) {
  return fmt::format(
      "import it with `codefleet catalog import-prices PAGE.json... --catalog DIR` from the Azure "
      "Retail Prices API (https://prices.azure.com/api/retail/prices?$filter=armRegionName eq '{}' "
      "and armSkuName eq '{}'), or accept an estimate with `--price-fallback REGION` "
      "(spec: `pricing.fallback_region`)",
      region, sku);
}

Result<Price> Catalog::price(std::string_view sku, std::string_view region, PriceType type,
                             std::optional<std::string> fallback_region) const {
  std::string r = to_lower(region);
  for (const auto& p : prices_) {
    if (iequals(p.sku, sku) && p.region == r && p.type == type) return p;
  }
  if (fallback_region && !fallback_region->empty()) {
    std::string fr = to_lower(*fallback_region);
    for (const auto& p : prices_) {
      if (iequals(p.sku, sku) && p.region == fr && p.type == type) {
        Price est = p;
        est.region = r;
        est.estimated = true;
        est.estimated_from = fr;
        return est;
      }
    }
    return make_error(ErrorCode::kNotFound,
                      fmt::format("no {} price for {} in {}, nor in the fallback region {}; {}",
                                  price_type_name(type), sku, r, fr, missing_price_hint(sku, r)));
  }
  return make_error(ErrorCode::kNotFound,
                    fmt::format("no {} price for {} in {}; {}", price_type_name(type), sku, r,
                                missing_price_hint(sku, r)));
}

std::string sizes_to_csv(const std::vector<VmSize>& sizes) {
  std::string out =
      csv_line({"sku", "series", "quota_family", "vcpus", "memory_gib", "gpus", "gpu_model",
                "gpu_memory_gib", "temp_storage_gib", "premium_storage", "accelerated_networking",
                "hibernation_supported", "max_data_disks", "source"});
  for (const auto& s : sizes) {
    std::string gpus = s.gpu_milli % kMilliPerGpu == 0
                           ? std::to_string(s.gpu_milli / kMilliPerGpu)
                           : Money::from_micros(s.gpu_milli * 1000).to_string();
    out += csv_line(
        {s.sku, s.series, s.quota_family, std::to_string(s.vcpus), gib_text(s.memory_mib), gpus,
         s.gpu_model, gib_text(s.gpu_memory_mib), std::to_string(s.temp_storage_gib),
         s.premium_storage ? "true" : "false",
         s.accelerated_networking == AcceleratedNetworking::kRequired
             ? "required"
             : (s.accelerated_networking == AcceleratedNetworking::kYes ? "true" : "false"),
         s.hibernation_supported ? "true" : "false", std::to_string(s.max_data_disks), s.source});
  }
  return out;
}

std::string prices_to_csv(const std::vector<Price>& prices) {
  std::string out =
      csv_line({"sku", "region", "price_type", "usd_per_hour", "term", "source", "as_of"});
  for (const auto& p : prices) {
    out += csv_line({p.sku, p.region, price_type_name(p.type), p.usd_per_hour.to_string(), p.term,
                     p.source, p.as_of});
  }
  return out;
}

std::string availability_to_csv(const std::vector<Availability>& rows) {
  std::string out = csv_line({"sku", "region", "zones", "restriction", "source"});
  for (const auto& a : rows) {
    std::string zones;
    for (const auto& z : a.zones) zones += (zones.empty() ? "" : " ") + z;
    out += csv_line({a.sku, a.region, zones, a.restriction, a.source});
  }
  return out;
}

}  // namespace codefleet

#include "catalog/default_data.h"

namespace codefleet {

Result<Catalog> Catalog::load_default() {
  Catalog c;
  auto ok = c.add_sizes_csv(kDefaultSizesCsv, "data/catalog/vm-sizes.csv");
  if (!ok) return tl::unexpected(ok.error());
  ok = c.add_prices_csv(kDefaultPricesCsv, "data/catalog/vm-prices.csv");
  if (!ok) return tl::unexpected(ok.error());
  return c;
}

}  // namespace codefleet
