#include "iac/lint.h"

#include <algorithm>
#include <filesystem>
#include <fstream>
#include <set>
#include <sstream>

#include <fmt/format.h>

#include "core/text.h"
#include "iac/lint_parse.h"

namespace codefleet::iac {

using lint::Node;

namespace {

struct Resource {
  std::string file;
  bool bicep = false;
  std::string type;  // azurerm_key_vault | Microsoft.KeyVault/vaults
  std::string name;  // Terraform name or Bicep symbol
  const Node* node = nullptr;
};

// Resource types whose logs must reach Log Analytics through a diagnostic setting.
const std::set<std::string> kNeedsDiagnostics = {
    "azurerm_key_vault",
    "azurerm_kubernetes_cluster",
    "azurerm_network_security_group",
    "azurerm_application_gateway",
    "azurerm_cognitive_account",
    "azurerm_recovery_services_vault",
    "Microsoft.KeyVault/vaults",
    "Microsoft.ContainerService/managedClusters",
    "Microsoft.Network/networkSecurityGroups",
    "Microsoft.Network/applicationGateways",
    "Microsoft.CognitiveServices/accounts",
    "Microsoft.RecoveryServices/vaults",
};

// Taggable resources without a `location` of their own.
const std::set<std::string> kTaggedWithoutLocation = {
    "azurerm_kubernetes_cluster_node_pool", "azurerm_private_dns_zone",
    "azurerm_private_dns_zone_virtual_network_link", "azurerm_monitor_action_group"};

bool truthy(const Node* n) { return n && iequals(n->value, "true"); }
bool falsy(const Node* n) { return n && iequals(n->value, "false"); }

bool open_source(const std::string& s) {
  static const std::set<std::string> kOpen = {"*",        "0.0.0.0/0", "0.0.0.0",
                                              "internet", "any",       "::/0"};
  return kOpen.count(to_lower(s)) > 0;
}

// True when the port expression (a port, a range "a-b", "*", or a list) covers `port`.
bool covers(const std::string& ranges, int port) {
  for (const auto& part : split(ranges, ',')) {
    std::string r(trim(part));
    if (r == "*") return true;
    auto dash = r.find('-');
    try {
      if (dash == std::string::npos) {
        if (!r.empty() && std::stoi(r) == port) return true;
      } else if (std::stoi(r.substr(0, dash)) <= port && port <= std::stoi(r.substr(dash + 1))) {
        return true;
      }
    } catch (...) {
      // Not a number (a variable): cannot tell.
    }
  }
  return false;
}

class Linter {
 public:
  Linter(std::vector<std::string> tags, std::vector<LintFinding>& out)
      : tags_(std::move(tags)), out_(out) {}

  void add(const std::string& file, const std::string& text) {
    bool bicep = file.ends_with(".bicep");
    std::vector<Node> nodes;
    std::string error;
    bool ok = bicep ? lint::parse_bicep(text, nodes, error) : lint::parse_hcl(text, nodes, error);
    if (!ok) {
      int line = 0;
      if (error.starts_with("line ")) line = std::atoi(error.c_str() + 5);
      auto colon = error.find(": ");
      report(file, line, "parse-error",
             colon == std::string::npos ? error : error.substr(colon + 2));
      return;
    }
    trees_.push_back(std::move(nodes));
    for (const auto& n : trees_.back()) {
      if (bicep && n.key == "resource") {
        resources_.push_back({file, true, n.labels[0], n.labels[1], &n});
      } else if (!bicep && n.key == "resource" && n.labels.size() == 2) {
        resources_.push_back({file, false, n.labels[0], n.labels[1], &n});
      }
    }
  }

  void run() {
    std::set<std::string> diagnosed;  // "type.name" (Terraform) or symbol (Bicep)
    for (const auto& r : resources_) {
      if (r.type == "azurerm_monitor_diagnostic_setting") {
        if (const Node* t = r.node->child("target_resource_id")) {
          std::string v = t->value;
          if (v.ends_with(".id")) v.resize(v.size() - 3);
          diagnosed.insert(v);
        }
      }
      if (r.type == "Microsoft.Insights/diagnosticSettings") {
        if (const Node* s = r.node->child("scope")) diagnosed.insert(s->value);
      }
    }
    for (const auto& r : resources_) {
      nsg(r);
      key_vault(r);
      aks(r);
      storage(r);
      tags(r);
      if (kNeedsDiagnostics.count(r.type)) {
        std::string key = r.bicep ? r.name : r.type + "." + r.name;
        if (!diagnosed.count(key)) {
          report(r.file, r.node->line, "diagnostics-missing",
                 fmt::format("{} '{}' sends no logs to Log Analytics: add a diagnostic setting",
                             r.type, r.name));
        }
      }
    }
  }

 private:
  void report(const std::string& file, int line, const std::string& rule, const std::string& msg) {
    out_.push_back({file, line, rule, msg});
  }

  void check_rule(const Resource& r, const Node& rule, bool bicep) {
    auto get = [&](const char* tf, const char* bc) { return rule.child(bicep ? bc : tf); };
    const Node* access = get("access", "access");
    const Node* dir = get("direction", "direction");
    if (!access || !iequals(access->value, "Allow")) return;
    if (dir && !iequals(dir->value, "Inbound")) return;
    std::vector<std::string> sources;
    if (const Node* s = get("source_address_prefix", "sourceAddressPrefix"))
      sources.push_back(s->value);
    if (const Node* s = get("source_address_prefixes", "sourceAddressPrefixes")) {
      for (const auto& c : s->children) sources.push_back(c.value);
    }
    bool open = std::any_of(sources.begin(), sources.end(), open_source);
    std::string ports;
    if (const Node* p = get("destination_port_range", "destinationPortRange")) ports = p->value;
    if (const Node* p = get("destination_port_ranges", "destinationPortRanges")) {
      ports += (ports.empty() ? "" : ",") + p->value;
    }
    for (int port : {22, 3389}) {
      if (open && covers(ports, port)) {
        report(r.file, rule.line, "nsg-open-admin-port",
               fmt::format("{} '{}' allows port {} inbound from anywhere: limit the source to a "
                           "VPN or Bastion range",
                           r.type, r.name, port));
        return;
      }
    }
  }

  void nsg(const Resource& r) {
    if (r.type == "azurerm_network_security_group") {
      for (const Node* rule : r.node->all("security_rule")) check_rule(r, *rule, false);
    } else if (r.type == "azurerm_network_security_rule") {
      check_rule(r, *r.node, false);
    } else if (r.type == "Microsoft.Network/networkSecurityGroups") {
      if (const Node* rules = r.node->at("properties.securityRules")) {
        for (const auto& rule : rules->children) {
          if (const Node* p = rule.child("properties")) check_rule(r, *p, true);
        }
      }
    } else if (r.type == "Microsoft.Network/networkSecurityGroups/securityRules") {
      if (const Node* p = r.node->child("properties")) check_rule(r, *p, true);
    }
  }

  void key_vault(const Resource& r) {
    const Node* p = nullptr;
    if (r.type == "azurerm_key_vault")
      p = r.node->child("purge_protection_enabled");
    else if (r.type == "Microsoft.KeyVault/vaults")
      p = r.node->at("properties.enablePurgeProtection");
    else
      return;
    if (!truthy(p)) {
      report(r.file, p ? p->line : r.node->line, "kv-purge-protection",
             fmt::format("Key Vault '{}' has no purge protection: a deleted vault's secrets can be "
                         "purged at once",
                         r.name));
    }
  }

  void aks(const Resource& r) {
    if (r.type == "azurerm_kubernetes_cluster") {
      const Node* rbac = r.node->child("role_based_access_control_enabled");
      const Node* aad = r.node->child("azure_active_directory_role_based_access_control");
      if (falsy(rbac) || !aad || !truthy(aad->child("azure_rbac_enabled"))) {
        report(
            r.file,
            falsy(rbac) ? rbac->line
            : aad       ? aad->line
                        : r.node->line,
            "aks-rbac",
            fmt::format("AKS '{}' must use Kubernetes RBAC with Entra ID and Azure RBAC", r.name));
      }
      const Node* local = r.node->child("local_account_disabled");
      if (!truthy(local)) {
        report(r.file, local ? local->line : r.node->line, "aks-local-accounts",
               fmt::format("AKS '{}' keeps local accounts: set local_account_disabled = true",
                           r.name));
      }
    } else if (r.type == "Microsoft.ContainerService/managedClusters") {
      const Node* rbac = r.node->at("properties.enableRBAC");
      const Node* azure_rbac = r.node->at("properties.aadProfile.enableAzureRBAC");
      if (!truthy(rbac) || !truthy(azure_rbac)) {
        const Node* at = !truthy(rbac) ? rbac : azure_rbac;
        report(
            r.file, at ? at->line : r.node->line, "aks-rbac",
            fmt::format("AKS '{}' must use Kubernetes RBAC with Entra ID and Azure RBAC", r.name));
      }
      const Node* local = r.node->at("properties.disableLocalAccounts");
      if (!truthy(local)) {
        report(
            r.file, local ? local->line : r.node->line, "aks-local-accounts",
            fmt::format("AKS '{}' keeps local accounts: set disableLocalAccounts: true", r.name));
      }
    }
  }

  void storage(const Resource& r) {
    const Node* p = nullptr;
    if (r.type == "azurerm_storage_account") {
      p = r.node->child("allow_nested_items_to_be_public");
      if (!p) p = r.node->child("allow_blob_public_access");
    } else if (r.type == "azurerm_storage_container") {
      const Node* a = r.node->child("container_access_type");
      if (a && !iequals(a->value, "private")) p = a;
    } else if (r.type == "Microsoft.Storage/storageAccounts") {
      p = r.node->at("properties.allowBlobPublicAccess");
    } else if (r.type == "Microsoft.Storage/storageAccounts/blobServices/containers") {
      const Node* a = r.node->at("properties.publicAccess");
      if (a && !iequals(a->value, "None")) p = a;
    }
    if (p && (truthy(p) || (!falsy(p) && !p->value.empty() && !iequals(p->value, "true")))) {
      report(r.file, p->line, "storage-public-blob",
             fmt::format("{} '{}' allows anonymous public blob access", r.type, r.name));
    }
  }

  void tags(const Resource& r) {
    if (!r.node->child("location") && !kTaggedWithoutLocation.count(r.type)) return;
    if (r.type == "azurerm_monitor_diagnostic_setting") return;
    const Node* t = r.node->child("tags");
    if (!t) {
      report(r.file, r.node->line, "tag-missing",
             fmt::format("{} '{}' has no tags{}", r.type, r.name,
                         tags_.empty() ? "" : " (required: " + join(tags_) + ")"));
      return;
    }
    if (!t->container) return;  // a variable or merge(): cannot tell
    std::vector<std::string> missing;
    for (const auto& req : tags_) {
      const Node* v = t->child(req);
      if (!v || trim(v->value).empty()) missing.push_back(req);
    }
    if (!missing.empty()) {
      report(r.file, t->line, "tag-missing",
             fmt::format("{} '{}' lacks required tag{} {}", r.type, r.name,
                         missing.size() > 1 ? "s" : "", join(missing)));
    }
  }

  static std::string join(const std::vector<std::string>& v) {
    std::string s;
    for (size_t i = 0; i < v.size(); ++i) s += (i ? ", " : "") + v[i];
    return s;
  }

  std::vector<std::string> tags_;
  std::vector<LintFinding>& out_;
  std::vector<std::vector<Node>> trees_;
  std::vector<Resource> resources_;
};

std::vector<std::string> marker_tags(const std::map<std::string, std::string>& files) {
  const std::string marker = "codefleet:required-tags ";
  for (const auto& [name, text] : files) {
    auto p = text.find(marker);
    if (p == std::string::npos) continue;
    auto end = text.find('\n', p);
    std::vector<std::string> tags;
    for (const auto& t : split(text.substr(p + marker.size(), end - p - marker.size()), ',')) {
      if (!trim(t).empty()) tags.emplace_back(trim(t));
    }
    return tags;
  }
  return {};
}

}  // namespace

std::string LintFinding::describe() const {
  return fmt::format("{}:{}: {}: {}", file, line, rule, message);
}

const std::vector<std::string>& lint_rule_ids() {
  static const std::vector<std::string> kIds = {
      "nsg-open-admin-port", "kv-purge-protection", "aks-rbac",   "aks-local-accounts",
      "storage-public-blob", "diagnostics-missing", "tag-missing"};
  return kIds;
}

std::vector<LintFinding> lint_files(const std::map<std::string, std::string>& files,
                                    const LintOptions& options) {
  std::vector<LintFinding> out;
  std::vector<std::string> tags = options.required_tags;
  if (tags.empty()) tags = marker_tags(files);
  // Terraform and Bicep are separate deployments: each is linted on its own.
  for (const char* ext : {".tf", ".bicep"}) {
    Linter linter(tags, out);
    for (const auto& [name, text] : files) {
      if (name.ends_with(ext)) linter.add(name, text);
    }
    linter.run();
  }
  std::sort(out.begin(), out.end(), [](const LintFinding& a, const LintFinding& b) {
    return std::tie(a.file, a.line, a.rule) < std::tie(b.file, b.line, b.rule);
  });
  return out;
}

Result<std::vector<LintFinding>> lint_dir(const std::string& dir, const LintOptions& options) {
  std::error_code ec;
  if (!std::filesystem::is_directory(dir, ec)) {
    return make_error(ErrorCode::kNotFound, "not a directory", dir);
  }
  std::map<std::string, std::string> files;
  for (auto it = std::filesystem::recursive_directory_iterator(dir, ec);
       !ec && it != std::filesystem::recursive_directory_iterator(); it.increment(ec)) {
    if (!it->is_regular_file()) continue;
    std::string ext = it->path().extension().string();
    if (ext != ".tf" && ext != ".bicep") continue;
    std::string rel = std::filesystem::relative(it->path(), dir).string();
    if (rel.starts_with(".terraform/")) continue;
    std::ifstream in(it->path(), std::ios::binary);
    std::stringstream ss;
    ss << in.rdbuf();
    if (!in && !in.eof())
      return make_error(ErrorCode::kInternal, "cannot read", it->path().string());
    files[(std::filesystem::path(dir) / rel).string()] = ss.str();
  }
  if (ec) return make_error(ErrorCode::kInternal, ec.message(), dir);
  return lint_files(files, options);
}

}  // namespace codefleet::iac
