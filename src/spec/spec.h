// The fleet spec: one YAML document describing a whole Azure deployment — regions,
// quotas, environments and their node pools, workload classes, AI Foundry and
// self-hosted model endpoints, budgets, network, access, tags, storage and backup.
// Every field, unit and default is documented in docs/SPEC.md.
//
//   auto parsed = parse_spec_file("examples/recommended.yaml");
//   for (const Pool& p : parsed->spec.all_pools()) fmt::print("{} {}\n", p.name, p.sku);
#pragma once

#include <map>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "core/money.h"
#include "core/resources.h"
#include "core/time.h"

namespace codefleet {

struct RunSpec;

enum class IdleAction { kNone, kHibernate, kDeallocate, kDelete };
const char* idle_action_name(IdleAction a);

enum class OsDiskType { kManaged, kEphemeral };

// "mon".."sun" as 0..6 (Monday first, as ISO 8601).
struct TimeWindow {
  std::vector<int> days;  // empty = every day
  int start_minute = 0;   // minutes after local midnight
  int end_minute = 0;     // may be < start: the window crosses midnight
};

struct Schedule {
  std::string time_zone = "UTC";  // IANA name, e.g. Europe/Amsterdam
  std::vector<TimeWindow> windows;
};

struct PriceAssumption {
  std::string series;  // or
  std::string sku;
  std::string basis;  // "vcpu_hour" or "hour"
  Money min_usd;      // a single figure has min == max
  Money max_usd;
  std::string note;
  // What the spec's authors expect the matching pools to cost a month ({min, max}),
  // checked against their own rate and the catalog's by `plan`'s seed check.
  std::optional<std::pair<Money, Money>> stated_monthly;
  std::string path;  // YAML path of this entry, for findings
};

struct QuotaSpec {
  std::string region;
  std::optional<int64_t> total_vcpus;
  std::optional<int64_t> spot_vcpus;
  std::map<std::string, int64_t> families;  // quota family name → vCPUs
  std::string path;
};

struct OsDisk {
  OsDiskType type = OsDiskType::kManaged;
  std::string tier = "premium_ssd";
  int64_t size_gib = 128;
};

struct Pool {
  std::string name;
  std::string environment;  // filled in from the enclosing environment
  std::string region;       // the environment's region
  std::string sku;
  int64_t min_nodes = 0;
  int64_t max_nodes = 1;
  bool spot = false;
  OsDisk os_disk;
  bool availability_set = false;
  std::vector<std::string> zones;
  bool backup = false;
  bool capacity_reservation = false;
  std::string scale_down_mode = "Delete";  // AKS: Delete | Deallocate
  // Who sets the pool's node count: CodeFleet (the daemon; the AKS cluster autoscaler
  // stays off) or the cluster autoscaler (CodeFleet only places work on it). Never both.
  std::string scaler = "codefleet";  // codefleet | cluster-autoscaler
  // How the NVIDIA device plugin shares a GPU pool's devices: "" (whole GPUs only),
  // time-slicing, mps or mig. On Kubernetes a fractional `gpus` runs only on a pool that
  // says so.
  std::string gpu_sharing;
  IdleAction idle_action = IdleAction::kNone;
  Duration idle_after{std::chrono::minutes(30)};
  std::optional<Schedule> schedule;  // when the pool runs; outside it, min_nodes drops to 0
  std::vector<std::string> classes;  // workload classes it serves
  std::string storage;               // a storage tier name
  std::map<std::string, std::string> tags;
  std::optional<PriceAssumption> price_assumption;
  std::string path;  // "environments[0].pools[1]"
};

struct Environment {
  std::string name;
  std::string region;
  std::string subnet;
  std::map<std::string, std::string> tags;
  std::vector<Pool> pools;
  std::string path;
};

enum class ClassKind { kCompute, kLlm };

struct WorkloadClass {
  std::string name;
  ClassKind kind = ClassKind::kCompute;
  Resources resources;
  Duration duration{std::chrono::hours(1)};
  int64_t priority = 0;
  bool deferrable = false;
  bool preemptible = false;
  std::vector<std::string> prefer;     // pool or deployment names, most preferred first
  std::string policy = "cheapest";     // cheapest | fastest
  std::shared_ptr<const RunSpec> run;  // what its tasks run unless they say (workload/run.h)
  std::string path;
};

struct FoundryDeployment {
  std::string name;
  std::string endpoint;
  std::string deployment;
  std::string model;
  std::string region;
  Money usd_per_1m_input_tokens;
  Money usd_per_1m_output_tokens;
  int64_t tpm = 0;  // tokens per minute limit; 0 = unlimited
  int64_t rpm = 0;  // requests per minute limit; 0 = unlimited
  std::vector<std::string> classes;
  std::string auth = "managed-identity";  // managed-identity | api-key | entra
  // deployments: {endpoint}/openai/deployments/{deployment}/chat/completions?api-version=…
  // v1: {endpoint}/openai/v1/chat/completions, the deployment named in the body's `model`
  std::string api = "deployments";
  std::string path;
};

struct SelfHostedEndpoint {
  std::string name;
  std::string pool;
  std::string endpoint;
  std::string model;
  int64_t tokens_per_second = 0;  // per node, sustained
  std::vector<std::string> classes;
  std::string path;
};

struct Budget {
  std::string name;
  std::string scope = "subscription";  // subscription | an environment name
  Money amount_usd;
  std::vector<int64_t> thresholds_pct{50, 80, 100};
  std::vector<std::string> contact_emails;
  std::string path;
};

struct Subnet {
  std::string name;
  std::string cidr;
  std::string path;
};

struct Network {
  std::string vnet_cidr;
  std::vector<Subnet> subnets;
  std::string path;
};

struct AccessRule {
  std::string group;
  std::string role;  // viewer | submitter | operator | admin
  std::string path;
};

struct StorageTier {
  std::string name;
  std::string
      kind;  // premium_ssd | premium_ssd_v2 | ultra_disk | standard_ssd | standard_hdd | local_nvme
  int64_t size_gib = 0;
  std::string path;
};

struct BackupSpec {
  bool enabled = false;
  int64_t retention_days = 30;
  Duration rpo{std::chrono::hours(24)};
  Duration rto{std::chrono::hours(4)};
};

struct Policies {
  bool require_hibernation = false;                 // every pool's size must be able to hibernate
  int64_t hours_per_month = 730;                    // Azure's billing month
  Duration wait_slo_p95{std::chrono::minutes(15)};  // 95% of tasks start within this once eligible
};

struct Spec {
  int64_t version = 1;
  std::string name;
  std::string subscription_id;
  std::vector<std::string> regions;
  std::string price_fallback_region;  // "" = never substitute a region's price
  std::vector<PriceAssumption> price_assumptions;
  std::vector<QuotaSpec> quotas;
  Policies policies;
  std::vector<std::string> required_tags;
  std::map<std::string, std::string> default_tags;
  Network network;
  std::vector<AccessRule> access;
  std::vector<StorageTier> storage;
  BackupSpec backup;
  std::optional<Schedule> off_peak;
  std::vector<Environment> environments;
  std::vector<WorkloadClass> classes;
  std::vector<FoundryDeployment> foundry;
  std::vector<SelfHostedEndpoint> inference;
  std::vector<Budget> budgets;

  std::vector<const Pool*> all_pools() const;
  const Pool* find_pool(const std::string& name) const;
  const WorkloadClass* find_class(const std::string& name) const;
  const QuotaSpec* find_quota(const std::string& region) const;
};

// A position in the YAML source (1-based).
struct SourcePos {
  int line = 0;
  int column = 0;
};

struct SpecDiagnostic {
  std::string path;  // "environments[0].pools[1].idle.action"
  SourcePos pos;
  std::string message;
  std::string suggestion;
};

struct ParsedSpec {
  Spec spec;
  std::string file;
  std::map<std::string, SourcePos> positions;  // YAML path → where it is
  // The position of `path`, or of its nearest ancestor that exists in the file.
  SourcePos position_of(const std::string& path) const;
};

struct SpecParseError {
  std::string file;
  std::vector<SpecDiagnostic> errors;
  std::string describe() const;  // one line per error: "file:line:col: path: message"
};

// Parses YAML text. Type, range and reference errors are collected (all of them) and
// returned as SpecParseError. An unknown field is an error too, naming the closest valid
// field ("did you mean 'idle'?"): a typo must not switch a setting off silently.
tl::expected<ParsedSpec, SpecParseError> parse_spec(const std::string& text,
                                                    const std::string& file);
// Reads and parses a file; a missing or unreadable file is a SpecParseError too.
tl::expected<ParsedSpec, SpecParseError> parse_spec_file(const std::string& file);

}  // namespace codefleet
