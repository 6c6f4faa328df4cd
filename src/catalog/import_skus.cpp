#include <algorithm>
#include <set>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "catalog/import.h"
#include "catalog/json_util.h"
#include "core/text.h"

namespace codefleet {

using nlohmann::json;

namespace {

// "Standard_D4s_v5" → "Dsv5", "Standard_NC40ads_H100_v5" → "NCads_H100_v5": drop the
// prefix and the first run of digits (the size), then a lone "_" before the version.
std::string series_from_name(const std::string& name) {
  std::string s = name.rfind("Standard_", 0) == 0 ? name.substr(9) : name;
  size_t a = s.find_first_of("0123456789");
  if (a != std::string::npos) {
    size_t b = s.find_first_not_of("0123456789", a);
    s.erase(a, b == std::string::npos ? std::string::npos : b - a);
  }
  if (std::count(s.begin(), s.end(), '_') == 1) s.erase(s.find('_'), 1);
  return s;
}

std::vector<std::string> strings_at(const json& obj, const char* name) {
  std::vector<std::string> out;
  auto it = obj.find(name);
  if (it == obj.end() || !it->is_array()) return out;
  for (const auto& v : *it) {
    if (v.is_string()) out.push_back(v.get<std::string>());
  }
  return out;
}

}  // namespace

Result<SkuImport> import_list_skus(const InputFile& file, const Catalog& known,
                                   const std::string& imported_on) {
  auto parsed = json_util::parse_document(file.name, file.text);
  if (!parsed) return tl::unexpected(parsed.error());
  json doc = std::move(*parsed);
  const json* list = &doc;
  if (doc.is_object() && doc.contains("value")) list = &doc["value"];
  if (!list->is_array()) {
    return make_error(ErrorCode::kInvalidInput,
                      "not `az vm list-skus` output: expected a JSON array of resource SKUs "
                      "(or an object with a 'value' array)",
                      file.name);
  }
  SkuImport out;
  std::set<std::string> seen_sizes;
  std::string source = fmt::format("az vm list-skus ({}), imported {}", file.name, imported_on);
  for (size_t i = 0; i < list->size(); ++i) {
    const json& sku = (*list)[i];
    std::string where = fmt::format("{}: [{}]", file.name, i);
    if (!sku.is_object())
      return make_error(ErrorCode::kInvalidInput, "entry is not an object", where);
    auto rtype = json_util::string_field(sku, "resourceType", where);
    auto name = json_util::string_field(sku, "name", where);
    auto family = json_util::string_field(sku, "family", where);
    for (auto* r : {&rtype, &name, &family}) {
      if (!*r) return tl::unexpected(r->error());
    }
    if (*rtype != "virtualMachines") {
      ++out.skipped_other_resource_types;
      continue;
    }
    if (name->empty())
      return make_error(ErrorCode::kInvalidInput, "field 'name' is missing", where);
    std::map<std::string, std::string> caps;
    if (sku.contains("capabilities") && sku["capabilities"].is_array()) {
      for (const auto& c : sku["capabilities"]) {
        if (c.is_object() && c.contains("name") && c.contains("value") && c["name"].is_string() &&
            c["value"].is_string()) {
          caps[c["name"].get<std::string>()] = c["value"].get<std::string>();
        }
      }
    }
    auto number = [&](const char* cap, int64_t scale) -> Result<int64_t> {
      auto it = caps.find(cap);
      if (it == caps.end()) return 0;
      auto v = parse_scaled_decimal(it->second, scale);
      if (!v || *v < 0) {
        return make_error(
            ErrorCode::kInvalidInput,
            fmt::format("capability '{}' = '{}' is not a non-negative number", cap, it->second),
            where + " (" + *name + ")");
      }
      return *v;
    };
    auto flag = [&](const char* cap) {
      auto it = caps.find(cap);
      return it != caps.end() && iequals(it->second, "True");
    };
    if (!seen_sizes.count(to_lower(*name))) {
      seen_sizes.insert(to_lower(*name));
      VmSize s;
      const VmSize* prior = known.find_size(*name);
      if (prior) s = *prior;
      s.sku = *name;
      if (!prior || s.series.empty()) s.series = series_from_name(*name);
      if (!family->empty() || !prior) s.quota_family = *family;
      auto vcpus = number("vCPUs", 1);
      auto mem = number("MemoryGB", kMibPerGib);
      auto gpus = number("GPUs", kMilliPerGpu);
      auto disks = number("MaxDataDiskCount", 1);
      auto temp_mb = number("MaxResourceVolumeMB", 1);
      for (auto* r : {&vcpus, &mem, &gpus, &disks, &temp_mb}) {
        if (!*r) return tl::unexpected(r->error());
      }
      if (*vcpus == 0) {
        return make_error(ErrorCode::kInvalidInput, "capability 'vCPUs' is missing or zero",
                          where + " (" + *name + ")");
      }
      s.vcpus = *vcpus;
      // A capability missing from the capture keeps what the catalog already knew.
      if (caps.count("MemoryGB") || !prior) s.memory_mib = *mem;
      // Fractional GPU sizes report a whole GPU here; keep the catalog's fraction.
      if (!prior || prior->gpu_milli == 0) s.gpu_milli = *gpus;
      if (caps.count("MaxDataDiskCount") || !prior) s.max_data_disks = *disks;
      if (caps.count("MaxResourceVolumeMB") || !prior) s.temp_storage_gib = *temp_mb / 1024;
      s.hibernation_supported = flag("HibernationSupported");
      s.premium_storage = flag("PremiumIO");
      bool accel = flag("AcceleratedNetworkingEnabled");
      if (!(prior && prior->accelerated_networking == AcceleratedNetworking::kRequired && accel)) {
        s.accelerated_networking = accel ? AcceleratedNetworking::kYes : AcceleratedNetworking::kNo;
      }
      if (s.gpu_milli > 0 && s.gpu_memory_mib == 0) {
        out.warnings.push_back(
            fmt::format("{}: list-skus does not report GPU memory; gpu_memory_gib left 0 (set it "
                        "in vm-sizes.csv)",
                        *name));
      }
      // Name the older source of the facts list-skus lacks (GPU model and memory), once:
      // a re-import replaces an earlier import's prefix instead of nesting it.
      std::string older = prior ? prior->source : "";
      const std::string kMarker = "; other facts from ";
      if (older.rfind("az vm list-skus", 0) == 0) {
        size_t cut = older.find(kMarker);
        older = cut == std::string::npos ? "" : older.substr(cut + kMarker.size());
      }
      s.source = source + (older.empty() ? "" : kMarker + older);
      out.sizes.push_back(s);
    }
    // Availability: locationInfo (zones), minus restrictions.
    std::map<std::string, Availability> by_region;
    if (sku.contains("locationInfo") && sku["locationInfo"].is_array()) {
      for (const auto& li : sku["locationInfo"]) {
        if (!li.is_object()) continue;
        auto loc = json_util::string_field(li, "location", where);
        if (!loc || loc->empty()) continue;
        Availability a{*name, to_lower(*loc), strings_at(li, "zones"), "", source};
        std::sort(a.zones.begin(), a.zones.end());
        by_region[a.region] = a;
      }
    }
    for (const auto& loc : strings_at(sku, "locations")) {
      if (!by_region.count(to_lower(loc)))
        by_region[to_lower(loc)] = {*name, to_lower(loc), {}, "", source};
    }
    if (sku.contains("restrictions") && sku["restrictions"].is_array()) {
      for (const auto& r : sku["restrictions"]) {
        if (!r.is_object()) continue;
        auto type = json_util::string_field(r, "type", where);
        auto reason = json_util::string_field(r, "reasonCode", where);
        if (!type || !reason) continue;
        std::vector<std::string> locs, zones;
        if (r.contains("restrictionInfo") && r["restrictionInfo"].is_object()) {
          locs = strings_at(r["restrictionInfo"], "locations");
          zones = strings_at(r["restrictionInfo"], "zones");
        }
        if (locs.empty()) locs = strings_at(r, "values");
        for (const auto& loc : locs) {
          auto& a = by_region[to_lower(loc)];
          if (a.sku.empty()) a = {*name, to_lower(loc), {}, "", source};
          if (*type == "Location") {
            a.restriction = reason->empty() ? "Restricted" : *reason;
          } else if (*type == "Zone") {
            std::erase_if(a.zones, [&](const std::string& z) {
              return std::find(zones.begin(), zones.end(), z) != zones.end();
            });
          }
        }
      }
    }
    for (auto& [region, a] : by_region) out.availability.push_back(a);
  }
  return out;
}

}  // namespace codefleet
