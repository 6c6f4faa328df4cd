// The `codefleet` subcommands. main.cpp parses flags (CLI11) into these option structs;
// each command lives in its own file and returns the process exit code:
// 0 = success / no errors, 1 = the command ran and found errors (or infeasibility),
// 2 = the command could not run (bad flags, unreadable or malformed input).
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace codefleet::cli {

constexpr int kExitOk = 0;
constexpr int kExitFindings = 1;
constexpr int kExitUsage = 2;

struct CommonOptions {
  std::vector<std::string> catalog_dirs;      // --catalog DIR (overlays, applied in order)
  std::string output = "table";               // table | json
  std::optional<std::string> price_fallback;  // --price-fallback REGION
  // --ignore-validation-errors: a command that consumes a spec goes on despite the errors
  // `codefleet validate` reports (never despite parse errors: those leave no spec).
  bool ignore_validation_errors = false;
};

struct ValidateOptions {
  std::string spec_file;
};
int run_validate(const CommonOptions& common, const ValidateOptions& opts);

struct CatalogListOptions {
  std::optional<std::string> region;
  std::optional<std::string> family;
  int64_t min_gpus = 0;
  bool hibernation = false;
};
int run_catalog_list(const CommonOptions& common, const CatalogListOptions& opts);

struct CatalogShowOptions {
  std::string sku;
  std::optional<std::string> region;
};
int run_catalog_show(const CommonOptions& common, const CatalogShowOptions& opts);

struct ImportOptions {
  std::vector<std::string> files;
};
int run_import_prices(const CommonOptions& common, const ImportOptions& opts);
int run_import_skus(const CommonOptions& common, const ImportOptions& opts);

struct RouteOptions {
  std::string spec_file;
  std::string task;               // JSON text, or @FILE
  std::optional<std::string> at;  // RFC 3339 submission time (default: now)
};
int run_route(const CommonOptions& common, const RouteOptions& opts);

struct SimulateOptions {
  std::string spec_file;
  std::string trace;
  std::string trace_format = "jsonl";
  std::string synthetic;
  std::vector<std::string> strategies;
  std::optional<int64_t> days;
  double load_scale = 1.0;
  std::optional<uint64_t> seed;
  bool skip_bad_rows = false;
  double allocation_failure_rate = 0.0;
  double spot_evictions_per_hour = 0.0;
  std::optional<std::string> disk_price;
  std::optional<std::string> llm_class, gpu_class, cpu_class;
  std::optional<std::string> llm_route_class;  // the `llm` section's class (azure-llm traces)
  std::string timeseries;
  std::string report;
  bool quiet = false;
};
int run_simulate(const CommonOptions& common, const SimulateOptions& opts);

struct PlanOptions {
  std::string spec_file;
  std::string trace;
  std::string trace_format = "jsonl";
  std::string synthetic = "tasks=20000,days=7,seed=1";
  std::string report;  // HTML file
};
int run_plan(const CommonOptions& common, const PlanOptions& opts);

// `codefleet serve`: flags win over the environment (CODEFLEET_*), which wins over the
// config file, which wins over the defaults. Unset optionals mean "not given here".
struct ServeOptions {
  std::string config_file;
  std::optional<std::string> spec_file, listen, store, bootstrap_admin_key, strategy;
  std::optional<std::string> tls_cert, tls_key, webhook_url;
  std::optional<double> speed;
  std::optional<int> threads;
  std::optional<bool> log_requests;
  std::optional<std::string> start_at;  // daemon time at start (accelerated demos)
  std::optional<std::string> workers;   // simulated | external
};
int run_serve(const CommonOptions& common, const ServeOptions& opts);

struct SubmitOptions {
  std::string spec_file;
  std::string server = "http://127.0.0.1:8080";
  std::string key;  // or CODEFLEET_API_KEY
  std::string tenant;
  std::string trace;
  std::string trace_format = "jsonl";
  std::string synthetic;
  std::optional<uint64_t> seed;
  std::optional<std::string> llm_class, gpu_class, cpu_class;
  double speed = 0;   // trace seconds per wall second; 0 = no pacing
  int64_t limit = 0;  // 0 = every arrival
  bool quiet = false;
};
int run_submit(const CommonOptions& common, const SubmitOptions& opts);

// `codefleet azure …` (see azure_cmd.cpp for the exit codes, including 3 = gave up).
struct AzureOptions {
  std::string arm_endpoint = "https://management.azure.com";
  std::string login_endpoint;  // "" = AZURE_AUTHORITY_HOST or https://login.microsoftonline.com
  bool dry_run = false;
  bool verbose = false;
  std::string subscription, region;
  std::string action;       // vm: hibernate | deallocate | start
  std::string resource_id;  // vm id, or the AKS cluster id
  std::string pool;
  std::optional<int64_t> count, min_count, max_count;
  std::optional<bool> autoscale;
  std::optional<std::string> scale_down_mode;
};
int run_azure_quota(const CommonOptions& common, const AzureOptions& opts);
int run_azure_vm(const CommonOptions& common, const AzureOptions& opts);
int run_azure_pool_scale(const CommonOptions& common, const AzureOptions& opts);
int run_azure_cost(const CommonOptions& common, const AzureOptions& opts);
int run_azure_cluster(const CommonOptions& common, const AzureOptions& opts);  // action: stop|start

struct RefreshOptions {
  std::string region;
  std::string sku;
  std::string endpoint = "https://prices.azure.com";
};
int run_catalog_refresh(const CommonOptions& common, const RefreshOptions& opts);

// `codefleet iac`: the deployment as Terraform or Bicep, then linted (iac_cmd.cpp).
struct IacGenerateOptions {
  std::string spec_file;
  std::string format = "terraform";  // terraform | bicep
  std::string out_dir;
  std::string environment;  // "" = every environment
};
int run_iac(const CommonOptions& common, const IacGenerateOptions& opts);

struct IacLintOptions {
  std::string dir;
  std::vector<std::string> required_tags;  // default: the generated files' marker
};
int run_iac_lint(const CommonOptions& common, const IacLintOptions& opts);

}  // namespace codefleet::cli
