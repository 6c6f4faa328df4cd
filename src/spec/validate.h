// `validate`: checks a parsed fleet spec against the catalog (Azure's facts) and the
// spec's own policies. Each rule has a stable id; each finding says where (YAML path
// and line:column), what is wrong, and how to fix it.
//
//   auto findings = validate_spec(parsed, catalog, {});
//   bool ok = std::none_of(findings.begin(), findings.end(), is_error);
#pragma once

#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "spec/spec.h"

namespace codefleet {

enum class Severity { kError, kWarning };
const char* severity_name(Severity s);

struct Finding {
  std::string rule;
  Severity severity = Severity::kError;
  std::string path;
  SourcePos pos;
  std::string message;
  std::string suggestion;
};
inline bool is_error(const Finding& f) { return f.severity == Severity::kError; }

struct ValidateOptions {
  // Overrides the spec's `pricing.fallback_region` (the CLI's --price-fallback).
  std::optional<std::string> price_fallback_region;
};

// What every rule sees, plus helpers shared by rules.
class RuleContext {
 public:
  RuleContext(const ParsedSpec& parsed, const Catalog& catalog, const ValidateOptions& options,
              std::vector<Finding>& out)
      : parsed(parsed), spec(parsed.spec), catalog(catalog), options_(options), out_(out) {}

  const ParsedSpec& parsed;
  const Spec& spec;
  const Catalog& catalog;

  void report(const std::string& rule, Severity sev, const std::string& path, std::string message,
              std::string suggestion = {});
  // The region whose price may stand in for a missing one ("" = none).
  std::string fallback_region() const;
  // Pay-as-you-go (or spot, for spot pools) hourly price of `pool`'s size in its region,
  // possibly an estimate from the fallback region. nullopt when the catalog has none.
  std::optional<Price> pool_price(const Pool& pool) const;
  // " (estimated from the eastus list price)" or "".
  static std::string estimate_note(const Price& p);

 private:
  const ValidateOptions& options_;
  std::vector<Finding>& out_;
};

class Rule {
 public:
  virtual ~Rule() = default;
  virtual std::vector<std::string> ids() const = 0;
  virtual void check(RuleContext& ctx) const = 0;
};

// One factory per rule family (one .cpp file each under rules/).
std::vector<std::unique_ptr<Rule>> catalog_rules();
std::vector<std::unique_ptr<Rule>> quota_rules();
std::vector<std::unique_ptr<Rule>> hibernation_rules();
std::vector<std::unique_ptr<Rule>> cost_rules();
std::vector<std::unique_ptr<Rule>> policy_rules();

// Every rule id, in documentation order.
std::vector<std::string> all_rule_ids();

// Runs every rule (unknown fields are parse errors: `parse_spec` refuses them).
// Findings are sorted by line, then column.
std::vector<Finding> validate_spec(const ParsedSpec& parsed, const Catalog& catalog,
                                   const ValidateOptions& options);

// Share of a week covered by `schedule`'s windows, in minutes (0..10080).
int64_t scheduled_minutes_per_week(const Schedule& schedule);

}  // namespace codefleet
