// `codefleet catalog list|show|import-prices|import-skus`.
#include <iostream>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "catalog/import.h"
#include "cli/common.h"
#include "core/text.h"
#include "report/table.h"

namespace codefleet::cli {

using ojson = nlohmann::ordered_json;

namespace {

std::string gib(int64_t mib) {
  if (mib % kMibPerGib == 0) return std::to_string(mib / kMibPerGib);
  return Money::from_micros(mib * Money::kMicrosPerUsd / kMibPerGib).to_string();
}
std::string gpus(int64_t milli) { return Money::from_micros(milli * 1000).to_string(); }

ojson number_from_text(const std::string& text) { return ojson::parse(text); }

const char* accel_name(AcceleratedNetworking a) {
  switch (a) {
    case AcceleratedNetworking::kNo:
      return "false";
    case AcceleratedNetworking::kYes:
      return "true";
    case AcceleratedNetworking::kRequired:
      return "required";
  }
  return "false";
}

ojson price_json(const Price& p) {
  ojson j{{"region", p.region},
          {"type", price_type_name(p.type)},
          {"usd_per_hour", number_from_text(p.usd_per_hour.to_string())},
          {"term", p.term.empty() ? ojson(nullptr) : ojson(p.term)},
          {"source", p.source},
          {"as_of", p.as_of.empty() ? ojson(nullptr) : ojson(p.as_of)}};
  if (p.as_of.empty()) j["as_of_note"] = "the source gives no date (see data/catalog/SOURCES.md)";
  if (p.estimated) {
    j["estimated"] = true;
    j["estimated_from"] = p.estimated_from;
  }
  return j;
}

ojson size_json(const VmSize& s) {
  return ojson{{"sku", s.sku},
               {"series", s.series},
               {"vcpus", s.vcpus},
               {"memory_gib", number_from_text(gib(s.memory_mib))},
               {"gpus", number_from_text(gpus(s.gpu_milli))},
               {"gpu_model", s.gpu_model},
               {"gpu_memory_gib", number_from_text(gib(s.gpu_memory_mib))},
               {"temp_storage_gib", s.temp_storage_gib},
               {"premium_storage", s.premium_storage},
               {"accelerated_networking", accel_name(s.accelerated_networking)},
               {"max_data_disks", s.max_data_disks},
               {"quota_family", s.quota_family},
               {"hibernation_supported", s.hibernation_supported},
               {"source", s.source}};
}

std::optional<std::string> fallback(const CommonOptions& c) { return c.price_fallback; }

}  // namespace

int run_catalog_list(const CommonOptions& common, const CatalogListOptions& opts) {
  auto catalog = load_catalog(common);
  if (!catalog) return kExitUsage;
  SizeFilter f;
  f.region = opts.region;
  f.family = opts.family;
  f.min_gpu_milli = opts.min_gpus * kMilliPerGpu;
  f.hibernation_only = opts.hibernation;
  auto sizes = catalog->sizes(f);
  if (common.output == "json") {
    ojson arr = ojson::array();
    for (const VmSize* s : sizes) {
      ojson j = size_json(*s);
      j["prices"] = ojson::array();
      for (const auto& p : catalog->prices(s->sku, opts.region))
        j["prices"].push_back(price_json(p));
      arr.push_back(j);
    }
    std::cout << ojson{{"sizes", arr}}.dump(2) << "\n";
    return kExitOk;
  }
  std::string price_col = opts.region ? "payg $/h (" + *opts.region + ")" : "payg $/h (lowest US)";
  Table t({"SKU", "SERIES", "VCPU", "MEM_GIB", "GPU", "HIBERNATE", "QUOTA_FAMILY", price_col});
  for (size_t c : {2, 3, 4, 7}) t.align_right(c);
  for (const VmSize* s : sizes) {
    std::string price = "-";
    if (opts.region) {
      auto p = catalog->price(s->sku, *opts.region, PriceType::kPayg, fallback(common));
      if (p)
        price = p->usd_per_hour.to_string(4) +
                (p->estimated ? " (est. " + p->estimated_from + ")" : "");
    } else {
      std::optional<Money> lowest;
      for (const auto& p : catalog->prices(s->sku)) {
        if (p.type == PriceType::kPayg && (!lowest || p.usd_per_hour < *lowest))
          lowest = p.usd_per_hour;
      }
      if (lowest) price = lowest->to_string(4);
    }
    t.add({s->sku, s->series, std::to_string(s->vcpus), gib(s->memory_mib), gpus(s->gpu_milli),
           s->hibernation_supported ? "yes" : "no", s->quota_family, price});
  }
  std::cout << t.render();
  std::cout << fmt::format("{} size{}", sizes.size(), sizes.size() == 1 ? "" : "s");
  if (opts.region && !catalog->knows_region(*opts.region)) {
    std::cout << fmt::format(
        "; the catalog has no prices or availability for {} ('-'): import them with `codefleet "
        "catalog "
        "import-prices` / `import-skus`, or pass --price-fallback REGION for estimates",
        *opts.region);
  }
  std::cout << "\n";
  return kExitOk;
}

int run_catalog_show(const CommonOptions& common, const CatalogShowOptions& opts) {
  auto catalog = load_catalog(common);
  if (!catalog) return kExitUsage;
  const VmSize* s = catalog->find_size(opts.sku);
  if (!s) {
    std::vector<std::string> names;
    for (const VmSize* x : catalog->sizes()) names.push_back(x->sku);
    std::string near = closest_match(opts.sku, names);
    print_error(fmt::format(
        "VM size '{}' is not in the catalog{}", opts.sku,
        near.empty() ? " (see `codefleet catalog list`)" : "; did you mean '" + near + "'?"));
    return kExitFindings;
  }
  std::vector<Price> prices = catalog->prices(s->sku, opts.region);
  std::vector<std::string> missing;
  if (opts.region && prices.empty()) {
    for (PriceType t : {PriceType::kPayg, PriceType::kSpot}) {
      auto p = catalog->price(s->sku, *opts.region, t, fallback(common));
      if (p) prices.push_back(*p);
    }
    if (prices.empty()) missing.push_back(*opts.region);
  }
  std::vector<Availability> avail;
  for (const auto& a : catalog->all_availability()) {
    if (iequals(a.sku, s->sku) && (!opts.region || a.region == to_lower(*opts.region)))
      avail.push_back(a);
  }
  if (common.output == "json") {
    ojson j = size_json(*s);
    j["prices"] = ojson::array();
    for (const auto& p : prices) j["prices"].push_back(price_json(p));
    if (!missing.empty()) {
      j["missing_prices"] = ojson::array();
      for (const auto& r : missing) {
        j["missing_prices"].push_back(
            {{"region", r}, {"how_to_import", missing_price_hint(s->sku, r)}});
      }
    }
    j["availability"] = ojson::array();
    for (const auto& a : avail) {
      j["availability"].push_back(
          {{"region", a.region},
           {"zones", a.zones},
           {"restriction", a.restriction.empty() ? ojson(nullptr) : ojson(a.restriction)},
           {"source", a.source}});
    }
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  Table facts({"FIELD", "VALUE"});
  facts.add({"sku", s->sku});
  facts.add({"series", s->series});
  facts.add({"vcpus", std::to_string(s->vcpus)});
  facts.add({"memory_gib", gib(s->memory_mib)});
  facts.add({"gpus", gpus(s->gpu_milli) + (s->gpu_model.empty() ? "" : " × " + s->gpu_model)});
  facts.add({"gpu_memory_gib", gib(s->gpu_memory_mib)});
  facts.add({"temp_storage_gib", std::to_string(s->temp_storage_gib)});
  facts.add({"premium_storage", s->premium_storage ? "true" : "false"});
  facts.add({"accelerated_networking", accel_name(s->accelerated_networking)});
  facts.add({"quota_family", s->quota_family});
  facts.add({"hibernation_supported", s->hibernation_supported ? "true" : "false"});
  facts.add({"source", s->source});
  std::cout << facts.render() << "\n";
  Table pt({"REGION", "TYPE", "USD_PER_HOUR", "AS_OF", "SOURCE"});
  pt.align_right(2);
  for (const auto& p : prices) {
    pt.add({p.region + (p.estimated ? " (est. from " + p.estimated_from + ")" : ""),
            price_type_name(p.type), p.usd_per_hour.to_string(4),
            p.as_of.empty() ? "undated" : p.as_of, p.source});
  }
  if (!pt.empty()) std::cout << pt.render();
  for (const auto& r : missing) {
    std::cout << fmt::format("No price for {} in {}: {}\n", s->sku, r,
                             missing_price_hint(s->sku, r));
  }
  return kExitOk;
}

int run_import_prices(const CommonOptions& common, const ImportOptions& opts) {
  if (common.catalog_dirs.size() != 1) {
    print_error("import-prices writes one overlay: pass exactly one --catalog DIR");
    return kExitUsage;
  }
  std::vector<InputFile> pages;
  for (const auto& f : opts.files) {
    auto text = read_text_file(f);
    if (!text) {
      print_error(text.error());
      return kExitUsage;
    }
    pages.push_back({f, *text});
  }
  auto imp = import_retail_price_pages(pages, today_utc());
  if (!imp) {
    print_error(imp.error());
    return kExitUsage;
  }
  auto ok = write_overlay(common.catalog_dirs.front(), Overlay{{}, imp->prices, {}});
  if (!ok) {
    print_error(ok.error());
    return kExitUsage;
  }
  std::string skipped;
  for (const auto& [why, n] : imp->skipped)
    skipped += fmt::format("{}{} {}", skipped.empty() ? "" : ", ", n, why);
  std::cout << fmt::format("imported {} price{} from {} page{} ({} items; skipped: {}) into {}\n",
                           imp->prices.size(), imp->prices.size() == 1 ? "" : "s", imp->pages,
                           imp->pages == 1 ? "" : "s", imp->items,
                           skipped.empty() ? "none" : skipped, common.catalog_dirs.front());
  for (const auto& w : imp->warnings) std::cerr << "codefleet: warning: " << w << "\n";
  return kExitOk;
}

int run_import_skus(const CommonOptions& common, const ImportOptions& opts) {
  if (common.catalog_dirs.size() != 1 || opts.files.size() != 1) {
    print_error(
        "import-skus reads one FILE.json and writes one overlay: pass exactly one --catalog DIR");
    return kExitUsage;
  }
  auto text = read_text_file(opts.files.front());
  if (!text) {
    print_error(text.error());
    return kExitUsage;
  }
  auto known = load_catalog(common);
  if (!known) return kExitUsage;
  auto imp = import_list_skus({opts.files.front(), *text}, *known, today_utc());
  if (!imp) {
    print_error(imp.error());
    return kExitUsage;
  }
  auto ok = write_overlay(common.catalog_dirs.front(), Overlay{imp->sizes, {}, imp->availability});
  if (!ok) {
    print_error(ok.error());
    return kExitUsage;
  }
  std::cout << fmt::format(
      "imported {} VM size{} and {} region availabilit{} (skipped {} non-VM SKUs) into {}\n",
      imp->sizes.size(), imp->sizes.size() == 1 ? "" : "s", imp->availability.size(),
      imp->availability.size() == 1 ? "y" : "ies", imp->skipped_other_resource_types,
      common.catalog_dirs.front());
  for (const auto& w : imp->warnings) std::cerr << "codefleet: warning: " << w << "\n";
  return kExitOk;
}

}  // namespace codefleet::cli
