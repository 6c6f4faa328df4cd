// `codefleet iac SPEC --format terraform|bicep --out DIR [--environment E]` writes the
// deployment as code, then lints what it wrote; `codefleet iac lint DIR` lints a folder.
// Exit codes: 0 = written / no findings, 1 = lint findings, 2 = could not run.
#include <filesystem>
#include <fstream>
#include <iostream>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "iac/iac.h"
#include "iac/lint.h"

namespace codefleet::cli {

namespace {

int report_findings(const CommonOptions& common, const std::vector<iac::LintFinding>& findings,
                    bool quiet_when_clean) {
  if (common.output == "json") {
    nlohmann::json out = {{"findings", nlohmann::json::array()}};
    for (const auto& f : findings) {
      out["findings"].push_back(
          {{"file", f.file}, {"line", f.line}, {"rule", f.rule}, {"message", f.message}});
    }
    std::cout << out.dump(2) << "\n";
  } else {
    for (const auto& f : findings) std::cout << f.describe() << "\n";
    if (!findings.empty() || !quiet_when_clean) {
      std::cout << fmt::format("lint: {} finding{}\n", findings.size(),
                               findings.size() == 1 ? "" : "s");
    }
  }
  return findings.empty() ? kExitOk : kExitFindings;
}

bool write_file(const std::filesystem::path& path, const std::string& text) {
  std::error_code ec;
  std::filesystem::create_directories(path.parent_path(), ec);
  if (ec) return false;
  // Temporary file, then rename: an interrupted run never leaves half a file.
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    out << text;
    if (!out) return false;
  }
  std::filesystem::rename(tmp, path, ec);
  return !ec;
}

}  // namespace

int run_iac(const CommonOptions& common, const IacGenerateOptions& opts) {
  if (opts.spec_file.empty()) {
    print_error("iac: give a fleet spec (codefleet iac SPEC --format terraform|bicep --out DIR)");
    return kExitUsage;
  }
  auto format = iac::parse_iac_format(opts.format);
  if (!format) {
    print_error("iac: --format must be terraform or bicep, not '" + opts.format + "'");
    return kExitUsage;
  }
  if (opts.out_dir.empty()) {
    print_error("iac: --out DIR is required");
    return kExitUsage;
  }
  auto loaded = load_spec_and_catalog(common, opts.spec_file);
  if (!loaded) return kExitUsage;
  if (!passes_validation(common, *loaded, opts.spec_file)) return kExitFindings;
  auto model = load_fleet_model(common, *loaded, opts.spec_file);
  if (!model) return kExitUsage;
  auto files = iac::generate_iac(loaded->parsed.spec, *model, loaded->catalog, *format,
                                 {.environment = opts.environment});
  if (!files) {
    print_error(files.error());
    return kExitUsage;
  }
  for (const auto& [path, text] : *files) {
    if (!write_file(std::filesystem::path(opts.out_dir) / path, text)) {
      print_error(Error{ErrorCode::kInternal, "cannot write the file",
                        (std::filesystem::path(opts.out_dir) / path).string()});
      return kExitUsage;
    }
  }
  if (common.output != "json") {
    std::cout << fmt::format("wrote {} files to {} ({}); apply as {}/README.md says\n",
                             files->size(), opts.out_dir, opts.format, opts.out_dir);
  }
  auto findings = iac::lint_dir(opts.out_dir, {});
  if (!findings) {
    print_error(findings.error());
    return kExitUsage;
  }
  return report_findings(common, *findings, false);
}

int run_iac_lint(const CommonOptions& common, const IacLintOptions& opts) {
  auto findings = iac::lint_dir(opts.dir, {.required_tags = opts.required_tags});
  if (!findings) {
    print_error(findings.error());
    return kExitUsage;
  }
  return report_findings(common, *findings, false);
}

}  // namespace codefleet::cli
