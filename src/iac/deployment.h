// What `codefleet iac` generates, decided once from the fleet spec and the fleet model
// (catalog sizes joined to spec pools): names, subnets, the AKS pools with their
// autoscaler bounds clamped to the quota, dev boxes, budgets, Foundry deployments,
// storage classes, policies. The Terraform, Bicep and Kueue emitters only render it,
// so the three never disagree.
//
//   auto d = build_deployment(spec, fleet_model, catalog, {.environment = ""});
//   for (const NodePool& p : d->pools) fmt::print("{} max {}\n", p.spec_name, p.max_count);
#pragma once

#include <map>
#include <optional>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "core/money.h"
#include "core/result.h"
#include "routing/fleet_model.h"
#include "spec/spec.h"

namespace codefleet::iac {

struct IacOptions {
  std::string environment;  // "" = every environment; else only this one
};

struct NsgRule {
  std::string name;
  int priority = 0;
  std::string access;       // Allow | Deny
  std::string protocol;     // Tcp | Udp | *
  std::string source;       // address prefix or service tag
  std::string port_range;   // destination port range, "*" for all
  std::string destination;  // address prefix or service tag
};

enum class SubnetRole { kEnvironment, kSystem, kAppGateway, kPrivateEndpoints, kVpnGateway };

struct Subnet {
  std::string name;  // Azure subnet name
  std::string id;    // identifier in generated code ("prod", "aks_system")
  std::string cidr;
  SubnetRole role = SubnetRole::kEnvironment;
  std::string environment;     // for kEnvironment
  std::string note;            // why it exists, when generated
  std::vector<NsgRule> rules;  // inbound; empty = no NSG (GatewaySubnet)
};

struct NodePool {
  std::string spec_name;  // "h100-train"
  std::string name;       // AKS name, ^[a-z][a-z0-9]{0,11}$: "h100train"
  std::string id;         // identifier in generated code: "h100_train"
  std::string environment, subnet_id, sku, series, quota_family;
  int64_t vcpus = 0, memory_mib = 0, gpu_milli = 0;
  bool gpu = false, spot = false, can_hibernate = false;
  // scaler: codefleet — the daemon sets the count, so the cluster autoscaler is off (the
  // system pool, and pools with scaler: cluster-autoscaler, keep the autoscaler).
  bool codefleet_scaled = false;
  int64_t min_count = 0, max_count = 0;
  std::string max_note;         // how max_count was derived (always set)
  bool clamped = false;         // max_count < the spec's max_nodes because of quota
  std::string scale_down_mode;  // Delete | Deallocate
  std::string scale_down_note;
  std::vector<std::string> zones;
  std::string os_disk_type = "Managed";  // Managed | Ephemeral
  int64_t os_disk_size_gb = 128;
  bool host_encryption = false;
  bool ultra_ssd = false;
  std::map<std::string, std::string> labels;
  std::vector<std::string> taints;
  std::map<std::string, std::string> tags;
};

struct DevBox {
  std::string spec_name, id, vm_name, environment, subnet_id;
  std::string sku, spec_sku, sku_note;  // sku_note set when the spec's size cannot hibernate
  std::string os_disk_type = "Premium_LRS";
  int64_t os_disk_size_gb = 128;
  bool host_encryption = false;
  std::string shutdown_time = "1900";  // HHMM, local
  std::string windows_time_zone = "UTC";
  std::map<std::string, std::string> tags;
};

struct Budget {
  std::string name, id;
  std::string environment;  // "" = the whole subscription; else a tag filter
  Money amount;
  std::vector<int64_t> thresholds_pct;
  std::vector<std::string> contact_emails;
};

struct AiDeployment {
  std::string name, id, model;
  int64_t capacity = 1;  // thousands of tokens per minute (Standard)
  int64_t tpm = 0;
};

struct AiAccount {
  std::string name, id, subdomain;
  bool local_auth = false;  // api-key auth asked for by some deployment
  std::vector<AiDeployment> deployments;
};

struct QuotaAlert {
  std::string family, id;
  int64_t limit = 0, threshold = 0;                    // vCPUs; threshold = 80% of the limit
  std::vector<std::pair<std::string, int64_t>> pools;  // spec pool name, vCPUs per node
};

struct StorageClass {
  std::string name, sku;  // "premium", "Premium_LRS"
  int64_t size_gib = 0;
  std::vector<std::string> pools;
};

struct AccessGrant {
  std::string group, role, aks_role, aks_role_guid, id;
};

struct Deployment {
  std::string fleet;            // spec name
  std::string subscription_id;  // the spec's, or ""
  std::string stem;             // "autocoding" or "autocoding-dev" with --environment
  std::string environment;      // the --environment filter, or ""
  std::string location;
  std::string suffix;  // 6 hex digits, stable per fleet: globally unique names
  std::vector<std::string> required_tags;
  std::map<std::string, std::string> platform_tags;
  std::map<std::string, std::map<std::string, std::string>> environment_tags;
  std::vector<std::string> environments;              // selected, in spec order
  std::map<std::string, std::string> environment_rg;  // environment → resource group name
  std::string platform_rg, aks_name, aks_node_rg, key_vault_name, log_analytics_name;
  std::string vnet_name, vnet_cidr, service_cidr, dns_service_ip, pod_cidr;
  std::vector<Subnet> subnets;
  NodePool system_pool;
  std::vector<NodePool> pools;
  std::vector<DevBox> dev_boxes;
  std::vector<AccessGrant> access;
  std::vector<std::string> admin_groups;
  bool backup = false;
  int64_t backup_retention_days = 30;
  int64_t backup_rpo_hours = 24;
  std::vector<std::string> backup_notes;  // pools that asked for backup, and why they get none
  std::vector<Budget> budgets;
  std::vector<std::string> alert_emails;
  std::vector<QuotaAlert> quota_alerts;
  std::vector<AiAccount> ai_accounts;
  std::vector<StorageClass> storage_classes;
  std::vector<std::string> allowed_locations, allowed_sizes;
  std::string api_backend_ip;
  std::vector<std::string> notes;  // what was left out and why
};

// Fails (kInvalidInput) for an unknown --environment, a VNet with no room for the
// platform subnets, or a size the catalog lacks.
Result<Deployment> build_deployment(const Spec& spec, const FleetModel& fleet,
                                    const Catalog& catalog, const IacOptions& options);

// The AKS node pool name for a spec pool name: lower-case letters and digits, starting
// with a letter, at most 12 characters.
std::string aks_pool_name(const std::string& spec_name);
// An identifier for generated code: letters, digits and '_'.
std::string code_id(const std::string& name);

}  // namespace codefleet::iac
