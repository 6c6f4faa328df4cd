// The catalog: Azure VM sizes, where they are offered, and what they cost, each
// fact with its source. The default catalog is compiled in from data/catalog/;
// overlays (written by `codefleet catalog import-*`) replace rows by key.
//
//   Catalog cat = *Catalog::load_default();
//   cat.apply_overlay_dir("my-catalog");                 // optional
//   const VmSize* h100 = cat.find_size("standard_nc40ads_h100_v5");
//   Result<Price> p = cat.price(h100->sku, "westeurope", PriceType::kPayg, "eastus");
//   // p->estimated == true: an eastus figure stands in for westeurope.
#pragma once

#include <map>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/money.h"
#include "core/resources.h"
#include "core/result.h"

namespace codefleet {

enum class AcceleratedNetworking { kNo, kYes, kRequired };

struct VmSize {
  std::string sku;           // "Standard_NC40ads_H100_v5"
  std::string series;        // "NCads_H100_v5"
  std::string quota_family;  // "StandardNCadsH100v5Family" (compare case-insensitively)
  int64_t vcpus = 0;
  int64_t memory_mib = 0;
  int64_t gpu_milli = 0;
  std::string gpu_model;
  int64_t gpu_memory_mib = 0;
  int64_t temp_storage_gib = 0;
  bool premium_storage = false;
  AcceleratedNetworking accelerated_networking = AcceleratedNetworking::kNo;
  bool hibernation_supported = false;
  int64_t max_data_disks = 0;
  std::string source;

  Resources resources() const { return {vcpus, memory_mib, gpu_milli, gpu_memory_mib}; }
};

enum class PriceType { kPayg, kSpot, kReservation1y, kReservation3y };
// "payg_linux", "spot_linux", "reservation_1y", "reservation_3y" (the CSV spelling).
const char* price_type_name(PriceType t);
std::optional<PriceType> parse_price_type(std::string_view s);

struct Price {
  std::string sku;
  std::string region;
  PriceType type = PriceType::kPayg;
  Money usd_per_hour;
  std::string term;    // "", "1 Year", "3 Years"
  std::string source;  // where the figure was copied from
  std::string as_of;   // date the price took effect or was observed; "" = the source gives none
  // Set when a price for `estimated_from` stands in for the requested region.
  bool estimated = false;
  std::string estimated_from;
};

// Where a size is offered: from `az vm list-skus`, or implied by a price row.
struct Availability {
  std::string sku;
  std::string region;
  std::vector<std::string> zones;
  std::string restriction;  // "" or a reasonCode such as NotAvailableForSubscription
  std::string source;
};

enum class Offered { kYes, kNo, kRestricted, kUnknown };

struct SizeFilter {
  std::optional<std::string> region;  // only sizes offered/priced there
  std::optional<std::string> family;  // series or quota family, case-insensitive
  int64_t min_gpu_milli = 0;
  int64_t min_vcpus = 0;
  int64_t min_memory_mib = 0;
  bool hibernation_only = false;
};

class Catalog {
 public:
  // The catalog compiled into the binary from data/catalog/.
  static Result<Catalog> load_default();
  // Parses catalog CSV text (the shipped format). `file` names it in errors.
  Result<void> add_sizes_csv(std::string_view text, const std::string& file);
  Result<void> add_prices_csv(std::string_view text, const std::string& file);
  Result<void> add_availability_csv(std::string_view text, const std::string& file);
  // Applies DIR/vm-sizes.csv, DIR/vm-prices.csv, DIR/vm-availability.csv when present.
  // A missing DIR is an error (kNotFound); a DIR with none of them is an empty overlay.
  Result<void> apply_overlay_dir(const std::string& dir);

  // Replace-or-insert by key (sku; sku+region+type; sku+region).
  void upsert(const VmSize& size);
  void upsert(const Price& price);
  void upsert(const Availability& availability);

  const VmSize* find_size(std::string_view sku) const;  // case-insensitive
  std::vector<const VmSize*> sizes(const SizeFilter& filter = {}) const;
  std::vector<Price> prices(std::string_view sku, std::optional<std::string> region = {}) const;
  const std::vector<Price>& all_prices() const { return prices_; }
  const std::vector<Availability>& all_availability() const { return availability_; }
  // Regions that the catalog has any fact about (a price or an availability row).
  bool knows_region(std::string_view region) const;
  Offered offered(std::string_view sku, std::string_view region) const;

  // The price of `sku` in `region`. Missing → kNotFound with how to import it, unless
  // `fallback_region` has one: then that price, marked `estimated`.
  Result<Price> price(std::string_view sku, std::string_view region, PriceType type,
                      std::optional<std::string> fallback_region = {}) const;

 private:
  std::vector<VmSize> sizes_;
  std::vector<Price> prices_;
  std::map<std::string, size_t> price_index_;  // "sku|region|type" (lower case) → position
  std::vector<Availability> availability_;
};

// Text of a "how to get this price" hint, shared by every command that needs prices.
std::string missing_price_hint(std::string_view sku, std::string_view region);

// Serialisation in the shipped CSV format (used by overlay writers).
std::string sizes_to_csv(const std::vector<VmSize>& sizes);
std::string prices_to_csv(const std::vector<Price>& prices);
std::string availability_to_csv(const std::vector<Availability>& rows);

}  // namespace codefleet
