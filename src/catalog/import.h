// Importers that turn Azure's own outputs into catalog rows:
//  - pages of the Retail Prices API (`GET https://prices.azure.com/api/retail/prices`)
//  - `az vm list-skus --output json` (or the Resource SKUs REST body `{"value": [...]}`)
// and the overlay directory they are written to (`--catalog DIR`).
//
//   auto imp = import_retail_price_pages({{"page0.json", text0}, {"page1.json", text1}},
//   "2026-11-27"); write_overlay("my-catalog", {.prices = imp->prices});
#pragma once

#include <map>
#include <string>
#include <utility>
#include <vector>

#include "catalog/catalog.h"
#include "core/result.h"

namespace codefleet {

struct InputFile {
  std::string name;  // shown in errors
  std::string text;
};

struct PriceImport {
  std::vector<Price> prices;
  int pages = 0;
  int items = 0;
  // Why rows were left out, e.g. {"windows": 12, "devtest": 3, "zero-price": 1}.
  std::map<std::string, int> skipped;
  std::vector<std::string> warnings;  // e.g. a NextPageLink whose page was not given
};

// Reads Retail Prices API pages. Keeps Linux VM rows: Consumption (payg; "Spot"/"Low
// Priority" in skuName or meterName → spot) and Reservation (term total → hourly, 1 year =
// 8760 h, 3 years = 26280 h). Skips Windows, DevTestConsumption, zero prices, non-VM
// services, non-hourly units. Duplicates keep the latest effectiveStartDate.
// `imported_on` (YYYY-MM-DD) is recorded in each row's source.
Result<PriceImport> import_retail_price_pages(const std::vector<InputFile>& pages,
                                              const std::string& imported_on);

struct SkuImport {
  std::vector<VmSize> sizes;
  std::vector<Availability> availability;
  int skipped_other_resource_types = 0;
  std::vector<std::string> warnings;
};

// Reads `az vm list-skus --output json`. Capabilities vCPUs, MemoryGB, GPUs,
// HibernationSupported, PremiumIO, AcceleratedNetworkingEnabled, MaxDataDiskCount,
// MaxResourceVolumeMB; `restrictions` of type Location/Zone. Facts the API lacks (GPU model
// and memory, series name) are kept from `known` when it has the size.
Result<SkuImport> import_list_skus(const InputFile& file, const Catalog& known,
                                   const std::string& imported_on);

struct Overlay {
  std::vector<VmSize> sizes;
  std::vector<Price> prices;
  std::vector<Availability> availability;
};

// Merges `add` into the overlay in `dir` (created if missing) and rewrites its CSV files
// atomically (write to a temporary file, then rename).
Result<void> write_overlay(const std::string& dir, const Overlay& add);

// "file:line:col" for a byte offset into `text` (for JSON parse errors).
std::string text_position(const std::string& file, const std::string& text, size_t byte_offset);

}  // namespace codefleet
