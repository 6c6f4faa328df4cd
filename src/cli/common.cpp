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
