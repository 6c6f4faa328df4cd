#include "iac/deployment.h"

#include <algorithm>
#include <set>

#include <fmt/format.h>

#include "core/text.h"
#include "spec/cidr.h"

namespace codefleet::iac {

namespace {

constexpr const char* kSystemPoolSku = "Standard_D4s_v5";
constexpr int64_t kSystemPoolMin = 2;
constexpr int64_t kSystemPoolMax = 3;

// Series whose sizes report the EncryptionAtHostSupported capability in
// `az vm list-skus`; sizes of other series get no encryption at host.
const std::set<std::string> kEncryptionAtHostSeries = {
    "Bsv2", "Bv1", "Dasv5", "Ddsv5",         "Dsv3",        "Dsv5",
    "Esv5", "M",   "Easv5", "NCads_H100_v5", "NVadsA10_v5", "Edsv5"};

// IANA zone → Windows zone id (what DevTest Labs auto-shutdown schedules take).
const std::map<std::string, std::string> kWindowsZones = {
    {"UTC", "UTC"},
    {"Etc/UTC", "UTC"},
    {"GMT", "UTC"},
    {"Europe/Amsterdam", "W. Europe Standard Time"},
    {"Europe/Berlin", "W. Europe Standard Time"},
    {"Europe/Rome", "W. Europe Standard Time"},
    {"Europe/Stockholm", "W. Europe Standard Time"},
    {"Europe/Zurich", "W. Europe Standard Time"},
    {"Europe/Vienna", "W. Europe Standard Time"},
    {"Europe/Paris", "Romance Standard Time"},
    {"Europe/Madrid", "Romance Standard Time"},
    {"Europe/Brussels", "Romance Standard Time"},
    {"Europe/London", "GMT Standard Time"},
    {"Europe/Dublin", "GMT Standard Time"},
    {"America/New_York", "Eastern Standard Time"},
    {"America/Chicago", "Central Standard Time"},
    {"America/Denver", "Mountain Standard Time"},
    {"America/Los_Angeles", "Pacific Standard Time"},
    {"Asia/Tokyo", "Tokyo Standard Time"},
    {"Asia/Singapore", "Singapore Standard Time"},
    {"Asia/Kolkata", "India Standard Time"},
    {"Australia/Sydney", "AUS Eastern Standard Time"},
};

struct RoleMap {
  const char* spec_role;
  const char* aks_role;
  const char* guid;
};
const RoleMap kRoles[] = {
    {"admin", "Azure Kubernetes Service RBAC Cluster Admin",
     "b1ff04bb-8a4e-4dc4-8eb5-8693973ce19b"},
    {"operator", "Azure Kubernetes Service RBAC Admin", "3498e952-d568-435e-9b2c-8d77e338d7f7"},
    {"submitter", "Azure Kubernetes Service RBAC Writer", "a7ffa36f-339b-4b5c-8bdf-e2c188b2c0eb"},
    {"viewer", "Azure Kubernetes Service RBAC Reader", "7f6c6a51-bcf8-42ba-9220-52d62157d7db"},
};

std::string slug(const std::string& s) {
  std::string out;
  for (char c : to_lower(s)) {
    if (std::isalnum(static_cast<unsigned char>(c))) {
      out += c;
    } else if (!out.empty() && out.back() != '-') {
      out += '-';
    }
  }
  while (!out.empty() && out.back() == '-') out.pop_back();
  return out.empty() ? "fleet" : out;
}

std::string fnv_suffix(const std::string& s) {
  uint32_t h = 2166136261u;
  for (unsigned char c : s) {
    h ^= c;
    h *= 16777619u;
  }
  return fmt::format("{:06x}", h & 0xffffffu);
}

std::string cidr_text(uint64_t first, int prefix) {
  return fmt::format("{}.{}.{}.{}/{}", (first >> 24) & 255, (first >> 16) & 255, (first >> 8) & 255,
                     first & 255, prefix);
}

std::string ip_text(uint64_t a) {
  return fmt::format("{}.{}.{}.{}", (a >> 24) & 255, (a >> 16) & 255, (a >> 8) & 255, a & 255);
}

// The highest free block of `prefix` inside `vnet`, not overlapping `used`.
std::optional<Cidr> free_block(const Cidr& vnet, int prefix, const std::vector<Cidr>& used) {
  if (prefix < vnet.prefix) return std::nullopt;
  uint64_t size = uint64_t{1} << (32 - prefix);
  for (uint64_t start = vnet.last() + 1 - size;; start -= size) {
    Cidr c{static_cast<uint32_t>(start), prefix};
    bool clash =
        std::any_of(used.begin(), used.end(), [&](const Cidr& u) { return u.overlaps(c); });
    if (!clash) return c;
    if (start < vnet.first() + size) return std::nullopt;
  }
}

std::vector<NsgRule> inbound_rules(SubnetRole role) {
  std::vector<NsgRule> r;
  switch (role) {
    case SubnetRole::kAppGateway:
      r.push_back({"allow-https-internet", 100, "Allow", "Tcp", "Internet", "443", "*"});
      r.push_back(
          {"allow-gateway-manager", 110, "Allow", "Tcp", "GatewayManager", "65200-65535", "*"});
      r.push_back({"allow-azure-load-balancer", 120, "Allow", "*", "AzureLoadBalancer", "*", "*"});
      break;
    case SubnetRole::kVpnGateway:
      return r;  // Azure does not allow an NSG on GatewaySubnet
    default:
      r.push_back(
          {"allow-vnet-inbound", 100, "Allow", "*", "VirtualNetwork", "*", "VirtualNetwork"});
      r.push_back({"allow-azure-load-balancer", 110, "Allow", "*", "AzureLoadBalancer", "*", "*"});
      break;
  }
  r.push_back({"deny-all-inbound", 4096, "Deny", "*", "*", "*", "*"});
  return r;
}

bool is_dev_box(const Pool& p) {
  auto dev = [](const std::string& s) {
    return icontains(s, "dev-box") || icontains(s, "devbox") || icontains(s, "dev_box");
  };
  if (dev(p.name)) return true;
  return std::any_of(p.classes.begin(), p.classes.end(), dev);
}

// The smallest hibernation-capable size at least as large as `size` (as `validate`
// suggests it): catalog order breaks ties.
const VmSize* nearest_hibernating(const Catalog& catalog, const VmSize& size) {
  const VmSize* best = nullptr;
  for (const VmSize* c : catalog.sizes()) {
    if (!c->hibernation_supported) continue;
    if (c->vcpus < size.vcpus || c->memory_mib < size.memory_mib || c->gpu_milli < size.gpu_milli)
      continue;
    if (!best || std::tie(c->vcpus, c->memory_mib, c->gpu_milli) <
                     std::tie(best->vcpus, best->memory_mib, best->gpu_milli)) {
      best = c;
    }
  }
  return best;
}

std::string disk_sku(const std::string& tier) {
  if (tier == "standard_ssd") return "StandardSSD_LRS";
  if (tier == "standard_hdd") return "Standard_LRS";
  if (tier == "premium_ssd_v2") return "PremiumV2_LRS";
  if (tier == "ultra_disk") return "UltraSSD_LRS";
  return "Premium_LRS";
}

// Quota left while pools are placed in spec order: per family, regional total and spot.
struct QuotaLeft {
  const QuotaSpec* spec = nullptr;
  std::map<std::string, int64_t> family;  // lower-case family → vCPUs left
  std::optional<int64_t> total, spot;

  explicit QuotaLeft(const QuotaSpec* q) : spec(q) {
    if (!q) return;
    for (const auto& [f, n] : q->families) family[to_lower(f)] = n;
    total = q->total_vcpus;
    spot = q->spot_vcpus;
  }

  // The largest count ≤ wanted that fits, and how it was derived.
  std::pair<int64_t, std::string> take(const std::string& fam, int64_t vcpus, bool spot_vm,
                                       int64_t wanted) {
    int64_t count = wanted;
    std::vector<std::string> bounds;
    auto bound = [&](std::optional<int64_t>& left, const std::string& what) {
      if (!left) return;
      int64_t fit = vcpus > 0 ? *left / vcpus : wanted;
      bounds.push_back(fmt::format("floor({} vCPUs of {} left / {})", *left, what, vcpus));
      count = std::min(count, fit);
    };
    std::optional<int64_t> fam_left;
    auto it = family.find(to_lower(fam));
    if (spot_vm) {
      bound(spot, "regional spot (low-priority) quota");
    } else {
      if (it != family.end()) fam_left = it->second;
      bound(fam_left, fam + " quota");
      bound(total, "regional total quota");
    }
    count = std::max<int64_t>(count, 0);
    if (spot_vm && spot) *spot -= count * vcpus;
    if (!spot_vm && it != family.end()) it->second -= count * vcpus;
    if (!spot_vm && total) *total -= count * vcpus;
    std::string note;
    if (bounds.empty()) {
      note = fmt::format("max_count = max_nodes {} (no {} quota declared for {})", wanted,
                         spot_vm ? "spot" : fam, spec ? spec->region : "the region");
    } else if (count < wanted) {
      note =
          fmt::format("max_count clamped from max_nodes {} to {} = min over {}: {} × {} vCPUs fit",
                      wanted, count, fmt::join(bounds, ", "), count, vcpus);
    } else {
      note = fmt::format("max_count = min(max_nodes {}, {}) = {}: {} × {} = {} vCPUs", wanted,
                         fmt::join(bounds, ", "), count, count, vcpus, count * vcpus);
    }
    return {count, note};
  }
};

std::string scale_down(const Pool& p, const PoolModel& m, std::string& note) {
  if (p.spot) {
    note = "spot pools can only delete nodes on scale-down";
    return "Delete";
  }
  if (iequals(p.scale_down_mode, "Deallocate")) {
    note = "scale_down_mode: Deallocate in the spec";
    return "Deallocate";
  }
  if (p.idle_action == IdleAction::kHibernate || p.idle_action == IdleAction::kDeallocate) {
    if (!m.can_hibernate) {
      note = fmt::format("{} cannot hibernate: idle nodes are deallocated (disks kept, quota held)",
                         m.sku);
    } else if (p.idle_action == IdleAction::kHibernate) {
      note = "AKS node pools cannot hibernate nodes: idle nodes are deallocated instead";
    } else {
      note = "idle.action: deallocate";
    }
    return "Deallocate";
  }
  note = p.idle_action == IdleAction::kDelete ? "idle.action: delete frees the nodes' quota"
                                              : "nodes are deleted on scale-down";
  return "Delete";
}

std::map<std::string, std::string> merged_tags(const Spec& spec, const Environment* env,
                                               const Pool* pool) {
  std::map<std::string, std::string> tags = spec.default_tags;
  if (env) {
    for (const auto& [k, v] : env->tags) tags[k] = v;
  }
  if (pool) {
    for (const auto& [k, v] : pool->tags) tags[k] = v;
  }
  return tags;
}

std::string subdomain_of(const std::string& endpoint) {
  std::string host = endpoint;
  if (auto p = host.find("://"); p != std::string::npos) host = host.substr(p + 3);
  host = host.substr(0, host.find_first_of("/:"));
  for (const char* suffix :
       {".openai.azure.com", ".cognitiveservices.azure.com", ".services.ai.azure.com"}) {
    std::string s = suffix;
    if (host.size() > s.size() && iequals(host.substr(host.size() - s.size()), s)) {
      return to_lower(host.substr(0, host.size() - s.size()));
    }
  }
  return "";
}

}  // namespace

std::string aks_pool_name(const std::string& spec_name) {
  std::string out;
  for (char c : to_lower(spec_name)) {
    if (std::isalnum(static_cast<unsigned char>(c))) out += c;
  }
  if (out.empty() || !std::isalpha(static_cast<unsigned char>(out[0]))) out = "p" + out;
  return out.substr(0, 12);
}

std::string code_id(const std::string& name) {
  std::string out;
  for (char c : to_lower(name)) out += std::isalnum(static_cast<unsigned char>(c)) ? c : '_';
  if (out.empty() || std::isdigit(static_cast<unsigned char>(out[0]))) out = "x" + out;
  return out;
}

Result<Deployment> build_deployment(const Spec& spec, const FleetModel& fleet,
                                    const Catalog& catalog, const IacOptions& options) {
  Deployment d;
  d.fleet = spec.name;
  d.subscription_id = spec.subscription_id;
  d.environment = options.environment;
  std::vector<const Environment*> envs;
  for (const auto& e : spec.environments) {
    if (options.environment.empty() || e.name == options.environment) envs.push_back(&e);
  }
  if (!options.environment.empty() && envs.empty()) {
    std::vector<std::string> names;
    for (const auto& e : spec.environments) names.push_back(e.name);
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("no environment '{}' in the spec (it has: {})",
                                  options.environment, fmt::join(names, ", ")),
                      "--environment");
  }
  d.stem = slug(spec.name) + (options.environment.empty() ? "" : "-" + slug(options.environment));
  d.suffix = fnv_suffix(d.stem);
  d.location = envs.empty() ? spec.regions.front() : envs.front()->region;
  d.required_tags = spec.required_tags;
  d.platform_tags = spec.default_tags;
  d.platform_tags["environment"] = options.environment.empty() ? "shared" : options.environment;
  for (const auto* e : envs) {
    d.environments.push_back(e->name);
    d.environment_rg[e->name] = "rg-" + slug(spec.name) + "-" + slug(e->name);
    d.environment_tags[e->name] = merged_tags(spec, e, nullptr);
  }
  d.platform_rg = "rg-" + d.stem + "-platform";
  d.aks_name = "aks-" + d.stem;
  d.aks_node_rg = "rg-" + d.stem + "-aks-nodes";
  d.vnet_name = "vnet-" + d.stem;
  d.log_analytics_name = "log-" + d.stem;
  d.key_vault_name = "kv-" + d.stem.substr(0, 13) + "-" + d.suffix;
  d.allowed_locations = spec.regions;

  // Network: the spec's subnets, then the platform's own, carved from the top of the VNet.
  d.vnet_cidr = spec.network.vnet_cidr.empty() ? "10.40.0.0/16" : spec.network.vnet_cidr;
  auto vnet = parse_cidr(d.vnet_cidr);
  if (!vnet) {
    return make_error(ErrorCode::kInvalidInput, "network.vnet_cidr is not an IPv4 CIDR",
                      "network.vnet_cidr");
  }
  std::vector<Cidr> used;
  for (const auto& s : spec.network.subnets) {
    if (auto c = parse_cidr(s.cidr)) used.push_back(*c);
  }
  std::map<std::string, std::string> env_subnet;  // environment → subnet id
  for (const auto* e : envs) {
    Subnet s;
    s.role = SubnetRole::kEnvironment;
    s.environment = e->name;
    for (const auto& ss : spec.network.subnets) {
      if (ss.name == e->subnet) {
        s.name = ss.name;
        s.cidr = ss.cidr;
      }
    }
    if (s.name.empty()) {
      auto c = free_block(*vnet, std::max(vnet->prefix, 22), used);
      if (!c) {
        return make_error(
            ErrorCode::kInfeasible,
            fmt::format("no free /22 in {} for environment '{}'", d.vnet_cidr, e->name),
            "network.subnets");
      }
      used.push_back(*c);
      s.name = e->name;
      s.cidr = cidr_text(c->first(), c->prefix);
      s.note = "the spec names no subnet for this environment";
    }
    s.id = code_id("env_" + s.name);
    s.rules = inbound_rules(s.role);
    env_subnet[e->name] = s.id;
    d.subnets.push_back(s);
  }
  struct PlatformSubnet {
    const char* name;
    const char* id;
    int prefix;
    SubnetRole role;
    const char* note;
  };
  const PlatformSubnet platform[] = {
      {"aks-system", "aks_system", 24, SubnetRole::kSystem, "AKS system node pool"},
      {"appgw", "appgw", 24, SubnetRole::kAppGateway, "Application Gateway (dedicated subnet)"},
      {"private-endpoints", "private_endpoints", 24, SubnetRole::kPrivateEndpoints,
       "private endpoints (Key Vault, AI Services)"},
      {"GatewaySubnet", "gateway", 27, SubnetRole::kVpnGateway, "VPN gateway (optional)"},
  };
  for (const auto& p : platform) {
    auto c = free_block(*vnet, std::max(vnet->prefix, p.prefix), used);
    if (!c) {
      return make_error(
          ErrorCode::kInfeasible,
          fmt::format("no free /{} in {} for the {} subnet", p.prefix, d.vnet_cidr, p.name),
          "network.vnet_cidr");
    }
    used.push_back(*c);
    Subnet s{p.name, p.id, cidr_text(c->first(), c->prefix), p.role, "", p.note, {}};
    s.rules = inbound_rules(p.role);
    if (p.role == SubnetRole::kSystem) d.api_backend_ip = ip_text(c->last() - 5);
    d.subnets.push_back(s);
  }
  // Service and pod ranges (Azure CNI overlay) that do not overlap the VNet.
  for (const char* svc : {"172.16.0.0/16", "10.255.0.0/16", "192.168.0.0/16"}) {
    if (!parse_cidr(svc)->overlaps(*vnet)) {
      d.service_cidr = svc;
      break;
    }
  }
  for (const char* pod : {"192.168.0.0/16", "100.64.0.0/16", "172.17.0.0/16"}) {
    if (!parse_cidr(pod)->overlaps(*vnet) && pod != d.service_cidr) {
      d.pod_cidr = pod;
      break;
    }
  }
  d.dns_service_ip = ip_text(parse_cidr(d.service_cidr)->first() + 10);

  // Node pools, the system pool first: each takes its quota in spec order.
  QuotaLeft quota(spec.find_quota(d.location));
  std::set<std::string> zones_in_use;
  for (const auto* e : envs) {
    for (const auto& p : e->pools) zones_in_use.insert(p.zones.begin(), p.zones.end());
  }
  const VmSize* sys = catalog.find_size(kSystemPoolSku);
  if (!sys) return make_error(ErrorCode::kNotFound, "the catalog lacks Standard_D4s_v5");
  NodePool& sp = d.system_pool;
  sp.spec_name = "system";
  sp.name = "system";
  sp.id = "system";
  sp.sku = sys->sku;
  sp.series = sys->series;
  sp.quota_family = sys->quota_family;
  sp.vcpus = sys->vcpus;
  sp.memory_mib = sys->memory_mib;
  sp.subnet_id = "aks_system";
  sp.zones.assign(zones_in_use.begin(), zones_in_use.end());
  sp.host_encryption = kEncryptionAtHostSeries.count(sys->series) > 0;
  auto [sys_max, sys_note] = quota.take(sys->quota_family, sys->vcpus, false, kSystemPoolMax);
  sp.max_count = sys_max;
  sp.max_note = sys_note;
  sp.min_count = std::min(kSystemPoolMin, sys_max);
  sp.scale_down_mode = "Delete";
  sp.tags = d.platform_tags;
  std::set<std::string> sizes{sys->sku};
  std::set<std::string> names{"system"};

  for (const auto& pm : fleet.pools) {
    const Pool* p = spec.find_pool(pm.name);
    if (!p) continue;
    const Environment* env = nullptr;
    for (const auto* e : envs) {
      if (e->name == p->environment) env = e;
    }
    if (!env) continue;
    if (!iequals(p->region, d.location)) {
      d.notes.push_back(fmt::format(
          "pool '{}' is in {}, not {}: generate its environment on its own with --environment {}",
          p->name, p->region, d.location, p->environment));
      continue;
    }
    const VmSize* size = catalog.find_size(p->sku);
    if (!size) return make_error(ErrorCode::kNotFound, "unknown size " + p->sku, p->path + ".sku");
    if (p->backup) {
      d.backup_notes.push_back(fmt::format(
          "pool '{}' asks for Azure Backup; its nodes are AKS nodes, rebuilt from the node image "
          "rather than restored — protect persistent volumes with AKS Backup instead",
          p->name));
    }
    if (is_dev_box(*p)) {
      DevBox b;
      b.spec_name = p->name;
      b.id = code_id(p->name);
      b.vm_name = "vm-" + slug(d.fleet) + "-" + slug(p->name);
      b.environment = env->name;
      b.subnet_id = env_subnet[env->name];
      b.spec_sku = size->sku;
      const VmSize* vm = size;
      if (!size->hibernation_supported) {
        vm = nearest_hibernating(catalog, *size);
        if (!vm) {
          return make_error(ErrorCode::kInfeasible,
                            fmt::format("pool '{}': {} cannot hibernate and no size in the "
                                        "catalog that can is as large",
                                        p->name, size->sku),
                            p->path + ".sku");
        }
        b.sku_note = fmt::format("{} cannot hibernate; {} can ({} vCPUs, {} GiB)", size->sku,
                                 vm->sku, vm->vcpus, vm->memory_mib / 1024);
      }
      b.sku = vm->sku;
      b.os_disk_type =
          disk_sku(p->os_disk.tier == "premium_ssd_v2" ? "premium_ssd" : p->os_disk.tier);
      b.os_disk_size_gb = p->os_disk.size_gib;
      b.host_encryption = kEncryptionAtHostSeries.count(vm->series) > 0;
      if (p->schedule) {
        int end = -1;
        for (const auto& w : p->schedule->windows) end = std::max(end, w.end_minute % 1440);
        if (end > 0) b.shutdown_time = fmt::format("{:02}{:02}", end / 60, end % 60);
        auto it = kWindowsZones.find(p->schedule->time_zone);
        b.windows_time_zone = it != kWindowsZones.end() ? it->second : "UTC";
      }
      b.tags = merged_tags(spec, env, p);
      quota.take(vm->quota_family, vm->vcpus, false, 1);
      sizes.insert(vm->sku);
      d.dev_boxes.push_back(b);
      continue;
    }
    NodePool np;
    np.spec_name = p->name;
    np.name = aks_pool_name(p->name);
    for (int i = 2; names.count(np.name); ++i) {
      np.name = aks_pool_name(p->name).substr(0, 10) + std::to_string(i);
    }
    names.insert(np.name);
    np.id = code_id(p->name);
    np.environment = env->name;
    np.subnet_id = env_subnet[env->name];
    np.sku = size->sku;
    np.series = size->series;
    np.quota_family = size->quota_family;
    np.vcpus = size->vcpus;
    np.memory_mib = size->memory_mib;
    np.gpu_milli = size->gpu_milli;
    np.gpu = pm.node.gpu_milli > 0;
    np.spot = p->spot;
    np.codefleet_scaled = p->scaler == "codefleet";
    np.can_hibernate = pm.can_hibernate;
    auto [max_count, note] = quota.take(size->quota_family, size->vcpus, p->spot, p->max_nodes);
    np.max_count = max_count;
    np.max_note = note;
    np.clamped = max_count < p->max_nodes;
    np.min_count = std::min(p->min_nodes, max_count);
    np.scale_down_mode = scale_down(*p, pm, np.scale_down_note);
    np.zones = p->zones;
    np.os_disk_type = p->os_disk.type == OsDiskType::kEphemeral ? "Ephemeral" : "Managed";
    np.os_disk_size_gb = p->os_disk.size_gib;
    np.host_encryption = kEncryptionAtHostSeries.count(size->series) > 0;
    for (const auto& st : spec.storage) {
      if (st.name == p->storage && st.kind == "ultra_disk") np.ultra_ssd = true;
    }
    np.labels["codefleet.io/pool"] = p->name;
    np.labels["codefleet.io/environment"] = env->name;
    if (np.gpu) np.taints.push_back("nvidia.com/gpu=present:NoSchedule");
    if (np.spot) np.taints.push_back("kubernetes.azure.com/scalesetpriority=spot:NoSchedule");
    np.tags = merged_tags(spec, env, p);
    sizes.insert(size->sku);
    d.pools.push_back(np);
  }
  d.allowed_sizes.assign(sizes.begin(), sizes.end());

  // Quota alerts: each declared family the pools use, at 80% of its limit.
  if (const QuotaSpec* q = spec.find_quota(d.location)) {
    for (const auto& [family, limit] : q->families) {
      QuotaAlert a;
      a.family = family;
      a.id = code_id(family);
      a.limit = limit;
      a.threshold = limit * 80 / 100;
      for (const auto& p : d.pools) {
        if (!p.spot && iequals(p.quota_family, family)) a.pools.emplace_back(p.spec_name, p.vcpus);
      }
      if (!a.pools.empty()) d.quota_alerts.push_back(a);
    }
  }

  // Access: Entra ID groups and their AKS roles.
  for (const auto& a : spec.access) {
    for (const auto& r : kRoles) {
      if (a.role == r.spec_role) {
        d.access.push_back({a.group, a.role, r.aks_role, r.guid, code_id(a.group + "_" + a.role)});
      }
    }
    if (a.role == "admin") d.admin_groups.push_back(a.group);
  }

  d.backup = spec.backup.enabled;
  d.backup_retention_days = spec.backup.retention_days;
  d.backup_rpo_hours =
      std::max<int64_t>(1, std::chrono::duration_cast<std::chrono::hours>(spec.backup.rpo).count());

  std::set<std::string> emails;
  for (const auto& b : spec.budgets) {
    bool whole = b.scope == "subscription";
    if (whole && !options.environment.empty()) {
      d.notes.push_back(fmt::format(
          "budget '{}' covers the whole subscription: it is generated without --environment",
          b.name));
      continue;
    }
    if (!whole &&
        std::find(d.environments.begin(), d.environments.end(), b.scope) == d.environments.end()) {
      continue;
    }
    Budget out{b.name,       code_id(b.name),  whole ? "" : b.scope,
               b.amount_usd, b.thresholds_pct, b.contact_emails};
    emails.insert(b.contact_emails.begin(), b.contact_emails.end());
    d.budgets.push_back(out);
  }
  d.alert_emails.assign(emails.begin(), emails.end());

  // Foundry: one AI Services account per endpoint, its deployments with their capacity.
  for (const auto& f : spec.foundry) {
    std::string sub = subdomain_of(f.endpoint);
    if (sub.empty()) sub = "ai-" + d.stem + "-" + d.suffix;
    if (!options.environment.empty()) sub += "-" + slug(options.environment);
    auto it = std::find_if(d.ai_accounts.begin(), d.ai_accounts.end(),
                           [&](const AiAccount& a) { return a.subdomain == sub; });
    if (it == d.ai_accounts.end()) {
      d.ai_accounts.push_back({sub, code_id(sub), sub, false, {}});
      it = std::prev(d.ai_accounts.end());
    }
    if (f.auth == "api-key") it->local_auth = true;
    AiDeployment dep;
    dep.name = f.deployment;
    dep.id = code_id(f.name);
    dep.model = f.model.empty() ? f.deployment : f.model;
    dep.tpm = f.tpm;
    dep.capacity = f.tpm > 0 ? (f.tpm + 999) / 1000 : 1;
    it->deployments.push_back(dep);
  }

  for (const auto& st : spec.storage) {
    if (st.kind == "local_nvme") {
      d.notes.push_back(fmt::format(
          "storage tier '{}' is the nodes' local NVMe: no disk or storage class is created",
          st.name));
      continue;
    }
    StorageClass sc{st.name, disk_sku(st.kind), st.size_gib, {}};
    for (const auto& p : d.pools) {
      const Pool* sp = spec.find_pool(p.spec_name);
      if (sp && sp->storage == st.name) sc.pools.push_back(p.spec_name);
    }
    d.storage_classes.push_back(sc);
  }
  return d;
}

}  // namespace codefleet::iac
