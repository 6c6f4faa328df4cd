#include "cli/common.h"

#include <algorithm>
#include <fstream>
#include <iostream>
#include <sstream>

#include <fmt/format.h>

#include "core/text.h"
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

void print_findings(std::ostream& out, const std::string& spec_file,
                    const std::vector<Finding>& findings) {
  size_t errors = std::count_if(findings.begin(), findings.end(), is_error);
  size_t warnings = findings.size() - errors;
  for (const auto& f : findings) {
    out << fmt::format("{}:{}:{}: {} [{}] {}\n", spec_file, f.pos.line, f.pos.column,
                       severity_name(f.severity), f.rule, f.path);
    out << "    " << f.message << "\n";
    if (!f.suggestion.empty()) out << "    fix: " << f.suggestion << "\n";
  }
  out << fmt::format("{}: {} error{}, {} warning{}\n", spec_file, errors, errors == 1 ? "" : "s",
                     warnings, warnings == 1 ? "" : "s");
}

bool passes_validation(const CommonOptions& common, const SpecAndCatalog& loaded,
                       const std::string& spec_file) {
  codefleet::ValidateOptions vo;
  if (common.price_fallback) vo.price_fallback_region = *common.price_fallback;
  auto findings = validate_spec(loaded.parsed, loaded.catalog, vo);
  size_t errors = std::count_if(findings.begin(), findings.end(), is_error);
  if (errors == 0) return true;
  std::string counted =
      fmt::format("{} has {} validation error{}", spec_file, errors, errors == 1 ? "" : "s");
  if (common.ignore_validation_errors) {
    std::cerr << "codefleet: warning: " << counted << " (see `codefleet validate " << spec_file
              << "`); going on because of --ignore-validation-errors\n";
    return true;
  }
  print_findings(std::cerr, spec_file, findings);
  print_error(counted + ": fix them, or pass --ignore-validation-errors to go on regardless");
  return false;
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

namespace {

// The first line of `file` that is not blank (a leading byte order mark dropped), from its
// first MiB: a header or a JSONL record. Empty when there is none.
Result<std::string> first_line(const std::string& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) return make_error(ErrorCode::kNotFound, "cannot open file (does it exist?)", file);
  std::string head(1 << 20, '\0');
  in.read(head.data(), static_cast<std::streamsize>(head.size()));
  head.resize(static_cast<size_t>(in.gcount()));
  std::string_view rest = without_utf8_bom(head);
  while (!rest.empty()) {
    size_t end = rest.find('\n');
    std::string_view line = trim(rest.substr(0, end));
    if (!line.empty()) return std::string(line);
    if (end == std::string_view::npos) break;
    rest.remove_prefix(end + 1);
  }
  return std::string();
}

// Header cells, trimmed and unquoted ("\"cpu_milli\"" is cpu_milli).
std::vector<std::string> header_cells(const std::string& line) {
  std::vector<std::string> cells;
  for (const auto& cell : split(line, ',')) {
    std::string_view c = trim(cell);
    if (c.size() >= 2 && c.front() == '"' && c.back() == '"') c = c.substr(1, c.size() - 2);
    cells.emplace_back(c);
  }
  return cells;
}

bool has_cell(const std::vector<std::string>& cells, std::string_view name) {
  return std::find(cells.begin(), cells.end(), name) != cells.end();
}

// At most 80 characters of `line`, control bytes shown as '?'.
std::string quoted_excerpt(const std::string& line) {
  std::string out = line.substr(0, 80);
  for (char& c : out) {
    if (static_cast<unsigned char>(c) < 0x20) c = '?';
  }
  return "'" + out + (line.size() > 80 ? "…'" : "'");
}

}  // namespace

Result<std::string> detect_trace_format(const std::string& file) {
  auto line = first_line(file);
  if (!line) return tl::unexpected(line.error());
  if (line->empty()) {
    return make_error(ErrorCode::kInvalidInput, "the trace is empty: no header, no rows", file);
  }
  if ((*line)[0] == '{') return std::string("jsonl");
  auto cells = header_cells(*line);
  if (has_cell(cells, "ContextTokens") && has_cell(cells, "GeneratedTokens")) {
    return std::string("azure-llm");
  }
  if (has_cell(cells, "cpu_milli") && has_cell(cells, "num_gpu")) {
    return std::string("alibaba-pods");
  }
  return make_error(
      ErrorCode::kInvalidInput,
      fmt::format("cannot tell the trace's format from its first line, {}: expected the Azure LLM "
                  "header (TIMESTAMP,ContextTokens,GeneratedTokens), an Alibaba pods header "
                  "(name,cpu_milli,memory_mib,num_gpu,gpu_milli,...) or a JSON object per line; "
                  "give --trace-format azure-llm|alibaba-pods|jsonl",
                  quoted_excerpt(*line)),
      file + ":1");
}

bool settle_trace_format(const std::string& trace, std::string& format, bool given) {
  if (trace.empty()) return true;
  auto detected = detect_trace_format(trace);
  if (!given) {
    if (!detected) {
      print_error(detected.error());
      return false;
    }
    format = *detected;
    std::cerr << "codefleet: reading " << trace << " as " << format
              << " (from its first line; --trace-format chooses)\n";
    return true;
  }
  if (detected && *detected != format) {
    print_error(Error{ErrorCode::kInvalidInput,
                      fmt::format("--trace-format {}, but the file's first line is {}: give "
                                  "--trace-format {}, or leave it out to go by the header",
                                  format,
                                  *detected == "jsonl" ? std::string("a JSON object (jsonl)")
                                                       : "the " + *detected + " header",
                                  *detected),
                      trace + ":1"});
    return false;
  }
  return true;  // not recognised: the importer's own error says what is wrong
}

Result<FlagText> text_or_file(const std::string& value, const std::string& flag) {
  std::string path;
  if (!value.empty() && value[0] == '@') {
    auto text = read_text_file(value.substr(1));
    if (!text) return tl::unexpected(text.error());
    return FlagText{std::move(*text), value.substr(1)};
  } else {
    std::string_view v = trim(value);
    if (!v.empty() && (v[0] == '{' || v[0] == '[')) return FlagText{value, flag};
    path = value;
  }
  if (path.empty())
    return make_error(ErrorCode::kInvalidInput, "expected JSON, @FILE or FILE", flag);
  auto text = read_text_file(path);
  if (!text) {
    return make_error(text.error().code,
                      fmt::format("'{}' is neither JSON (which starts with '{{') nor a file that "
                                  "can be read: {}",
                                  path, text.error().message),
                      flag);
  }
  return FlagText{std::move(*text), path};
}

}  // namespace codefleet::cli
