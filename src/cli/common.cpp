#include "cli/common.h"

#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "core/time.h"

namespace codefleet::cli {

std::optional<Catalog> load_catalog(const CommonOptions& common) {
  auto cat = Catalog::load_default();
  if (!cat) {
    print_error(cat.error());
    return std::nullopt;
  }
  for (const auto& dir : common.catalog_dirs) {
    auto ok = cat->apply_overlay_dir(dir);
    if (!ok) {
      print_error(ok.error());
      return std::nullopt;
    }
  }
  return std::move(*cat);
}

std::optional<SpecAndCatalog> load_spec_and_catalog(const CommonOptions& common,
                                                    const std::string& spec_file) {
  auto parsed = parse_spec_file(spec_file);
  if (!parsed) {
    std::cerr << parsed.error().describe();
    return std::nullopt;
  }
  auto catalog = load_catalog(common);
  if (!catalog) return std::nullopt;
  return SpecAndCatalog{std::move(*parsed), std::move(*catalog)};
}

std::optional<FleetModel> load_fleet_model(const CommonOptions& common,
                                           const SpecAndCatalog& loaded,
                                           const std::string& spec_file) {
  FleetModelOptions mo;
  mo.price_fallback_region = common.price_fallback;
  mo.resolve_time_zone = load_time_zone;
  auto model = build_fleet_model(loaded.parsed.spec, loaded.catalog, mo);
  if (!model) {
    print_error(Error{model.error().code, model.error().message,
                      spec_file + ": " + model.error().location});
    return std::nullopt;
  }
  model->spec = &loaded.parsed.spec;
  return std::move(*model);
}

std::optional<Workload> load_workload(const Spec& spec, const FleetModel& model,
                                      const std::string& trace, const std::string& trace_format,
                                      const std::string& synthetic,
                                      const TraceOptions& trace_options,
                                      std::optional<uint64_t> seed) {
  if (!trace.empty()) {
    auto format = parse_trace_format(trace_format);
    if (!format) {
      print_error(format.error());
      return std::nullopt;
    }
    auto text = read_text_file(trace);
    if (!text) {
      print_error(text.error());
      return std::nullopt;
    }
    auto w = load_trace(*text, trace, *format, spec, trace_options);
    if (!w) {
      print_error(w.error());
      return std::nullopt;
    }
    for (const auto& warning : w->warnings) std::cerr << "codefleet: warning: " << warning << "\n";
    return std::move(*w);
  }
  auto so = parse_synthetic_options(synthetic);
  if (!so) {
    print_error(so.error());
    return std::nullopt;
  }
  if (seed) so->seed = *seed;
  return synthetic_workload(model, *so);
}

Result<std::string> read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open file (does it exist?)", path);
  std::ostringstream ss;
  ss << in.rdbuf();
  if (in.bad()) return make_error(ErrorCode::kInternal, "read failed", path);
  return ss.str();
}

void print_error(const Error& e) { std::cerr << "codefleet: error: " << e.describe() << "\n"; }
void print_error(const std::string& message) {
  std::cerr << "codefleet: error: " << message << "\n";
}

Result<TimeZone> load_time_zone(const std::string& name) {
  auto built_in = TimeZone::named(name);
  if (built_in) return built_in;
  if (name.empty() || name.find("..") != std::string::npos || name[0] == '/') {
    return make_error(ErrorCode::kInvalidInput, "'" + name + "' is not an IANA time zone name");
  }
  auto bytes = read_text_file("/usr/share/zoneinfo/" + name);
  if (!bytes) {
    return make_error(ErrorCode::kNotFound, "unknown time zone '" + name +
                                                "' (not built in, and no /usr/share/zoneinfo/" +
                                                name + "; install tzdata)");
  }
  return TimeZone::from_tzif(*bytes, name);
}

std::string today_utc() { return format_rfc3339(SystemClock().now()).substr(0, 10); }

}  // namespace codefleet::cli
