// `codefleet validate SPEC`: parse the spec, run every rule, print the findings.
#include <iostream>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "spec/validate.h"

namespace codefleet::cli {

int run_validate(const CommonOptions& common, const ValidateOptions& opts) {
  auto loaded = load_spec_and_catalog(common, opts.spec_file);
  if (!loaded) return kExitUsage;
  const ParsedSpec* parsed = &loaded->parsed;
  const Catalog* catalog = &loaded->catalog;
  codefleet::ValidateOptions vo;
  if (common.price_fallback) vo.price_fallback_region = *common.price_fallback;
  auto findings = validate_spec(*parsed, *catalog, vo);
  size_t errors = std::count_if(findings.begin(), findings.end(), is_error);
  size_t warnings = findings.size() - errors;
  if (common.output == "json") {
    nlohmann::ordered_json j;
    j["file"] = opts.spec_file;
    j["findings"] = nlohmann::ordered_json::array();
    for (const auto& f : findings) {
      j["findings"].push_back({{"rule", f.rule},
                               {"severity", severity_name(f.severity)},
                               {"path", f.path},
                               {"line", f.pos.line},
                               {"column", f.pos.column},
                               {"message", f.message},
                               {"suggestion", f.suggestion}});
    }
    j["errors"] = errors;
    j["warnings"] = warnings;
    std::cout << j.dump(2) << "\n";
  } else {
    print_findings(std::cout, opts.spec_file, findings);
  }
  return errors > 0 ? kExitFindings : kExitOk;
}

}  // namespace codefleet::cli
