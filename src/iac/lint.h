// `codefleet iac lint`: rules in the spirit of the CIS Azure benchmark, checked on the
// generated Terraform (.tf) and Bicep (.bicep) text — the same code reviewers read — with
// a small parser that is good enough for that subset and for hand-written files.
//
//   auto findings = lint_files({{"network.tf", text}}, {});
//   for (const auto& f : findings) fmt::print("{}\n", f.describe());  // file:line: rule: msg
//
// Rules: nsg-open-admin-port, kv-purge-protection, aks-rbac, aks-local-accounts,
// storage-public-blob, diagnostics-missing, tag-missing.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "core/result.h"

namespace codefleet::iac {

struct LintFinding {
  std::string file;
  int line = 0;
  std::string rule;
  std::string message;
  std::string describe() const;  // "file:line: rule: message"
};

struct LintOptions {
  // Tags every taggable resource must carry. Empty: the `codefleet:required-tags` comment
  // of the files (written by `codefleet iac`), if any.
  std::vector<std::string> required_tags;
};

// Every rule id, in the order above.
const std::vector<std::string>& lint_rule_ids();

// `files`: name → text; names ending in .tf are Terraform, .bicep Bicep, others ignored.
// Findings are sorted by file, line, rule. A file that does not parse is a finding too
// (rule `parse-error`).
std::vector<LintFinding> lint_files(const std::map<std::string, std::string>& files,
                                    const LintOptions& options);

// Reads every .tf and .bicep file under `dir` (recursively) and lints them.
Result<std::vector<LintFinding>> lint_dir(const std::string& dir, const LintOptions& options);

}  // namespace codefleet::iac
