// Bicep: main.bicep (subscription scope: resource groups, policy, budgets, modules) and
// platform.bicep (network, AKS; the services come from bicep_services.cpp).
#include <set>

#include <fmt/format.h>

#include "iac/bicep_internal.h"

namespace codefleet::iac {

namespace bicep {

BicepDecl param(const std::string& name, const std::string& type, const std::string& description,
                std::optional<Value> def, bool secure) {
  BicepDecl p;
  p.kind = BicepDecl::Kind::kParam;
  p.symbol = name;
  p.type = type;
  if (secure) p.decorators.push_back("secure()");
  p.decorators.push_back("description(" + bicep_quote(description) + ")");
  p.has_value = def.has_value();
  if (def) p.value = *def;
  return p;
}

BicepDecl diagnostics(const std::string& symbol, const std::string& target) {
  return bicep_resource(
      symbol, "Microsoft.Insights/diagnosticSettings",
      obj({{"name", lit("to-log-analytics")},
           {"scope", expr(target)},
           {"properties", obj({{"workspaceId", expr("law.id")},
                               {"logs", arr({obj({{"categoryGroup", lit("allLogs")},
                                                  {"enabled", flag(true)}})})}})}}));
}

}  // namespace bicep

namespace {

using namespace bicep;

BicepDecl output(const std::string& name, const std::string& type, Value v) {
  BicepDecl o;
  o.kind = BicepDecl::Kind::kOutput;
  o.symbol = name;
  o.type = type;
  o.value = std::move(v);
  return o;
}

std::string subnet_ref(const Deployment& d, const std::string& id) {
  for (const auto& s : d.subnets) {
    if (s.id == id) return "'${vnet.id}/subnets/" + s.name + "'";
  }
  return "''";
}

Entries pool_properties(const Deployment& d, const NodePool& p, bool system) {
  Entries e;
  if (!system) e.push_back({"mode", lit("User")});
  e.push_back({"type", lit("VirtualMachineScaleSets")});
  e.push_back({"osType", lit("Linux")});
  e.push_back({"vmSize", lit(p.sku)});
  e.push_back({"vnetSubnetID", expr(subnet_ref(d, p.subnet_id))});
  e.push_back({"count", num(std::max<int64_t>(p.min_count, system ? 1 : 0))});
  // scaler: codefleet — the daemon sets the count; the cluster autoscaler stays off.
  bool autoscaled = p.max_count > 0 && !p.codefleet_scaled;
  e.push_back({"enableAutoScaling", flag(autoscaled)});
  if (autoscaled) {
    e.push_back({"minCount", num(p.min_count)});
    e.push_back({"maxCount", num(p.max_count)});
  }
  if (!system) {
    e.push_back({"scaleDownMode", lit(p.scale_down_mode)});
    if (p.spot) {
      e.push_back({"scaleSetPriority", lit("Spot")});
      e.push_back({"scaleSetEvictionPolicy", lit("Delete")});
      e.push_back({"spotMaxPrice", num(-1)});
    }
  }
  if (!p.zones.empty()) e.push_back({"availabilityZones", Value::strings(p.zones)});
  e.push_back({"osDiskType", lit(p.os_disk_type)});
  e.push_back({"osDiskSizeGB", num(p.os_disk_size_gb)});
  e.push_back({"enableEncryptionAtHost", flag(p.host_encryption)});
  if (p.ultra_ssd) e.push_back({"enableUltraSSD", flag(true)});
  if (!p.labels.empty()) e.push_back({"nodeLabels", tags(p.labels)});
  std::vector<std::string> taints = p.taints;
  if (system) taints.push_back("CriticalAddonsOnly=true:NoSchedule");
  if (!taints.empty()) e.push_back({"nodeTaints", Value::strings(taints)});
  e.push_back({"tags", tags(p.tags)});
  return e;
}

void network(const Deployment& d, std::vector<BicepDecl>& v) {
  for (const auto& s : d.subnets) {
    if (s.rules.empty()) continue;
    std::vector<Value> rules;
    for (const auto& r : s.rules) {
      rules.push_back(
          obj({{"name", lit(r.name)},
               {"properties", obj({{"priority", num(r.priority)},
                                   {"direction", lit("Inbound")},
                                   {"access", lit(r.access)},
                                   {"protocol", lit(r.protocol)},
                                   {"sourcePortRange", lit("*")},
                                   {"destinationPortRange", lit(r.port_range)},
                                   {"sourceAddressPrefix", lit(r.source)},
                                   {"destinationAddressPrefix", lit(r.destination)}})}}));
    }
    v.push_back(bicep_resource("nsg_" + s.id, "Microsoft.Network/networkSecurityGroups",
                               obj({{"name", lit("nsg-" + d.stem + "-" + s.name)},
                                    {"location", expr("location")},
                                    {"tags", tags(d.platform_tags)},
                                    {"properties", obj({{"securityRules", arr(rules)}})}}),
                               "Inbound traffic to subnet " + s.name +
                                   " is denied unless a rule "
                                   "allows it."));
  }
  std::vector<Value> subnets;
  for (const auto& s : d.subnets) {
    Entries props{{"addressPrefix", lit(s.cidr)}};
    if (!s.rules.empty())
      props.push_back({"networkSecurityGroup", obj({{"id", expr("nsg_" + s.id + ".id")}})});
    subnets.push_back(obj({{"name", lit(s.name)}, {"properties", obj(props)}}));
  }
  v.push_back(bicep_resource(
      "vnet", "Microsoft.Network/virtualNetworks",
      obj({{"name", lit(d.vnet_name)},
           {"location", expr("location")},
           {"tags", tags(d.platform_tags)},
           {"properties",
            obj({{"addressSpace", obj({{"addressPrefixes", Value::strings({d.vnet_cidr})}})},
                 {"subnets", arr(subnets)}})}}),
      "The VNet: a subnet per environment and the platform's own subnets."));
  BicepDecl pip =
      bicep_resource("vpn_ip", "Microsoft.Network/publicIPAddresses",
                     obj({{"name", lit("pip-" + d.stem + "-vpn")},
                          {"location", expr("location")},
                          {"tags", tags(d.platform_tags)},
                          {"sku", obj({{"name", lit("Standard")}})},
                          {"zones", Value::strings({"1", "2", "3"})},
                          {"properties", obj({{"publicIPAllocationMethod", lit("Static")}})}}),
                     "Optional VPN gateway (enableVpnGateway) for on-premises access.");
  pip.condition = "enableVpnGateway";
  v.push_back(pip);
  BicepDecl gw = bicep_resource(
      "vpn", "Microsoft.Network/virtualNetworkGateways",
      obj({{"name", lit("vgw-" + d.stem)},
           {"location", expr("location")},
           {"tags", tags(d.platform_tags)},
           {"properties",
            obj({{"gatewayType", lit("Vpn")},
                 {"vpnType", lit("RouteBased")},
                 {"vpnGatewayGeneration", lit("Generation2")},
                 {"sku", obj({{"name", lit("VpnGw2AZ")}, {"tier", lit("VpnGw2AZ")}})},
                 {"ipConfigurations",
                  arr({obj({{"name", lit("default")},
                            {"properties",
                             obj({{"publicIPAddress", obj({{"id", expr("vpn_ip.id")}})},
                                  {"subnet",
                                   obj({{"id", expr(subnet_ref(d, "gateway"))}})}})}})})}})}}));
  gw.condition = "enableVpnGateway";
  v.push_back(gw);
}

void aks(const Deployment& d, std::vector<BicepDecl>& v) {
  std::vector<Value> admins;
  for (const auto& g : d.admin_groups)
    admins.push_back(expr("entraGroupObjectIds[" + bicep_quote(g) + "]"));
  Entries sys = pool_properties(d, d.system_pool, true);
  sys.insert(sys.begin(), {"mode", lit("System")});
  sys.insert(sys.begin(), {"name", lit("system")});
  v.push_back(bicep_resource(
      "aks", "Microsoft.ContainerService/managedClusters",
      obj({{"name", lit(d.aks_name)},
           {"location", expr("location")},
           {"tags", tags(d.platform_tags)},
           {"sku", obj({{"name", lit("Base")}, {"tier", lit("Standard")}})},
           {"identity", obj({{"type", lit("SystemAssigned")}})},
           {"properties",
            obj({{"dnsPrefix", lit(d.stem)},
                 {"nodeResourceGroup", lit(d.aks_node_rg)},
                 {"enableRBAC", flag(true)},
                 {"disableLocalAccounts", flag(true)},
                 {"aadProfile", obj({{"managed", flag(true)},
                                     {"enableAzureRBAC", flag(true)},
                                     {"tenantID", expr("tenant().tenantId")},
                                     {"adminGroupObjectIDs", arr(admins)}})},
                 {"oidcIssuerProfile", obj({{"enabled", flag(true)}})},
                 {"securityProfile",
                  obj({{"workloadIdentity", obj({{"enabled", flag(true)}})},
                       {"defender",
                        obj({{"logAnalyticsWorkspaceResourceId", expr("law.id")},
                             {"securityMonitoring", obj({{"enabled", flag(true)}})}})}})},
                 {"addonProfiles",
                  obj({{"azurepolicy", obj({{"enabled", flag(true)}})},
                       {"omsagent",
                        obj({{"enabled", flag(true)},
                             {"config", obj({{"logAnalyticsWorkspaceResourceID", expr("law.id")},
                                             {"useAADAuth", lit("true")}})}})},
                       {"azureKeyvaultSecretsProvider",
                        obj({{"enabled", flag(true)},
                             {"config", obj({{"enableSecretRotation", lit("true")}})}})}})},
                 {"autoUpgradeProfile", obj({{"upgradeChannel", lit("patch")},
                                             {"nodeOSUpgradeChannel", lit("NodeImage")}})},
                 {"networkProfile", obj({{"networkPlugin", lit("azure")},
                                         {"networkPluginMode", lit("overlay")},
                                         {"networkPolicy", lit("azure")},
                                         {"loadBalancerSku", lit("standard")},
                                         {"podCidr", lit(d.pod_cidr)},
                                         {"serviceCidr", lit(d.service_cidr)},
                                         {"dnsServiceIP", lit(d.dns_service_ip)}})},
                 {"agentPoolProfiles", arr({obj(sys)})}})}}),
      "AKS: Entra ID with Azure RBAC, no local accounts, workload identity, Azure Policy,\n"
      "Defender, Container Insights, Azure CNI (overlay). System pool: " +
          d.system_pool.max_note + "."));
  v.push_back(bicep_resource(
      "aks_network", "Microsoft.Authorization/roleAssignments",
      obj({{"name", expr("guid(vnet.id, aks.id, 'network')")},
           {"scope", expr("vnet")},
           {"properties",
            obj({{"roleDefinitionId",
                  expr("subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '" +
                       std::string(kRoleNetworkContributor) + "')")},
                 {"principalId", expr("aks.identity.principalId")},
                 {"principalType", lit("ServicePrincipal")}})}}),
      "The cluster manages load balancers and IPs in the VNet."));
  for (const auto& p : d.pools) {
    v.push_back(bicep_resource(
        "pool_" + p.id, "Microsoft.ContainerService/managedClusters/agentPools",
        obj({{"parent", expr("aks")},
             {"name", lit(p.name)},
             {"properties", obj(pool_properties(d, p, false))}}),
        fmt::format("Spec pool '{}' ({}, environment {}): {} vCPUs a node{}.\n{}.\nScale-down: {}.",
                    p.spec_name, p.sku, p.environment, p.vcpus, p.gpu ? ", GPU" : "", p.max_note,
                    p.scale_down_note)));
  }
  for (const auto& a : d.access) {
    v.push_back(bicep_resource(
        "aks_" + a.id, "Microsoft.Authorization/roleAssignments",
        obj({{"name",
              expr("guid(aks.id, " + bicep_quote(a.group) + ", '" + a.aks_role_guid + "')")},
             {"scope", expr("aks")},
             {"properties",
              obj({{"roleDefinitionId",
                    expr("subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '" +
                         a.aks_role_guid + "')")},
                   {"principalId", expr("entraGroupObjectIds[" + bicep_quote(a.group) + "]")},
                   {"principalType", lit("Group")}})}}),
        "Entra ID group '" + a.group + "' (" + a.role + "): " + a.aks_role + "."));
  }
}

std::string platform_file(const Deployment& d) {
  std::vector<BicepDecl> v;
  v.push_back(
      param("location", "string", "Region of every resource.", expr("resourceGroup().location")));
  v.push_back(param("entraGroupObjectIds", "object",
                    "Object IDs of the spec's Entra ID groups, by group name."));
  v.push_back(param("apiTlsCertificateSecretId", "string",
                    "Key Vault secret ID of the API's TLS certificate (Application Gateway)."));
  v.push_back(param("apiBackendIp", "string",
                    "Private IP of the CodeFleet API's internal load balancer.",
                    lit(d.api_backend_ip)));
  v.push_back(param("enableVpnGateway", "bool", "Create the VPN gateway.", flag(false)));
  // The workspace first: the cluster's add-ons refer to it.
  platform_services(d, v);
  std::vector<BicepDecl> net;
  network(d, net);
  aks(d, net);
  // Order: params, workspace and services that need no network, then network and AKS,
  // then what refers to them (kept in platform_services' order after the marker).
  std::vector<BicepDecl> out;
  size_t split = 0;
  for (size_t i = 0; i < v.size(); ++i) {
    if (v[i].symbol == "__network__") split = i;
  }
  out.insert(out.end(), v.begin(), v.begin() + static_cast<long>(split));
  out.insert(out.end(), net.begin(), net.end());
  out.insert(out.end(), v.begin() + static_cast<long>(split) + 1, v.end());
  out.push_back(output("aksName", "string", expr("aks.name")));
  out.push_back(
      output("aksOidcIssuerUrl", "string", expr("aks.properties.oidcIssuerProfile.issuerURL")));
  out.push_back(output("keyVaultUri", "string", expr("kv.properties.vaultUri")));
  out.push_back(output("actionGroupId", "string", expr("ag.id")));
  for (const auto& s : d.subnets) {
    if (s.role == SubnetRole::kEnvironment) {
      out.push_back(output("subnetId_" + s.id, "string", expr(subnet_ref(d, s.id))));
    }
  }
  return write_bicep(out, generated_header(d,
                                           "The platform, deployed into its resource group: "
                                           "network, AKS, Key Vault,\nmonitoring, backup, AI "
                                           "Services, Application Gateway."));
}

std::string main_file(const Deployment& d) {
  std::vector<BicepDecl> v;
  BicepDecl scope;
  scope.kind = BicepDecl::Kind::kTargetScope;
  scope.value = lit("subscription");
  v.push_back(scope);
  v.push_back(param("location", "string", "Region of the resource groups.", lit(d.location)));
  v.push_back(param("entraGroupObjectIds", "object",
                    "Object IDs of the spec's Entra ID groups, by group name."));
  v.push_back(param("apiTlsCertificateSecretId", "string",
                    "Key Vault secret ID of the API's TLS certificate (Application Gateway)."));
  if (!d.dev_boxes.empty()) {
    v.push_back(param("devBoxSshPublicKey", "string", "SSH public key for the dev boxes.",
                      std::nullopt, true));
  }
  v.push_back(param("enableVpnGateway", "bool", "Create the VPN gateway.", flag(false)));
  v.push_back(param("budgetStartDate", "string", "First day of the budgets' first month.",
                    expr("utcNow('yyyy-MM-01')")));
  v.push_back(bicep_resource("rg_platform", "Microsoft.Resources/resourceGroups",
                             obj({{"name", lit(d.platform_rg)},
                                  {"location", expr("location")},
                                  {"tags", tags(d.platform_tags)}}),
                             "Resource groups, each with the spec's tags."));
  for (const auto& env : d.environments) {
    v.push_back(bicep_resource("rg_" + code_id(env), "Microsoft.Resources/resourceGroups",
                               obj({{"name", lit(d.environment_rg.at(env))},
                                    {"location", expr("location")},
                                    {"tags", tags(d.environment_tags.at(env))}})));
  }
  BicepDecl platform;
  platform.kind = BicepDecl::Kind::kModule;
  platform.symbol = "platform";
  platform.type = "platform.bicep";
  platform.value =
      obj({{"name", lit("platform")},
           {"scope", expr("rg_platform")},
           {"params", obj({{"location", expr("location")},
                           {"entraGroupObjectIds", expr("entraGroupObjectIds")},
                           {"apiTlsCertificateSecretId", expr("apiTlsCertificateSecretId")},
                           {"enableVpnGateway", expr("enableVpnGateway")}})}});
  v.push_back(platform);
  std::set<std::string> envs_with_boxes;
  for (const auto& b : d.dev_boxes) envs_with_boxes.insert(b.environment);
  for (const auto& env : d.environments) {
    if (!envs_with_boxes.count(env)) continue;
    std::string subnet;
    for (const auto& s : d.subnets) {
      if (s.environment == env) subnet = s.id;
    }
    BicepDecl m;
    m.kind = BicepDecl::Kind::kModule;
    m.symbol = "devboxes_" + code_id(env);
    m.type = "devboxes-" + env + ".bicep";
    m.value = obj({{"name", lit("devboxes-" + env)},
                   {"scope", expr("rg_" + code_id(env))},
                   {"params", obj({{"location", expr("location")},
                                   {"subnetId", expr("platform.outputs.subnetId_" + subnet)},
                                   {"sshPublicKey", expr("devBoxSshPublicKey")}})}});
    v.push_back(m);
  }
  auto policy = [&](const std::string& id, const std::string& definition,
                    const std::string& display, Value parameters, const std::string& comment,
                    bool exempt_nodes) {
    Entries props{{"displayName", lit(display)},
                  {"policyDefinitionId",
                   expr("tenantResourceId('Microsoft.Authorization/policyDefinitions', '" +
                        definition + "')")},
                  {"parameters", std::move(parameters)}};
    if (exempt_nodes) {
      props.push_back({"notScopes",
                       arr({expr("'${subscription().id}/resourceGroups/" + d.aks_node_rg + "'")})});
    }
    v.push_back(bicep_resource("policy_" + id, "Microsoft.Authorization/policyAssignments",
                               obj({{"name", lit(d.stem + "-" + id)}, {"properties", obj(props)}}),
                               comment));
  };
  auto listed = [](const std::string& key, const std::vector<std::string>& values) {
    return obj({{key, obj({{"value", Value::strings(values)}})}});
  };
  policy("allowed_locations", kPolicyAllowedLocations, "Allowed locations",
         listed("listOfAllowedLocations", d.allowed_locations),
         "Azure Policy: only the spec's regions,", false);
  policy("allowed_sizes", kPolicyAllowedSizes, "Allowed virtual machine size SKUs",
         listed("listOfAllowedSKUs", d.allowed_sizes), "only the spec's VM sizes,", false);
  for (const auto& t : d.required_tags) {
    policy("require_tag_" + code_id(t), kPolicyRequireRgTag,
           "Require a tag on resource groups: " + t, obj({{"tagName", obj({{"value", lit(t)}})}}),
           "and the spec's required tags on resource groups (AKS manages its node resource group).",
           true);
  }
  for (const auto& b : d.budgets) {
    Entries notes;
    size_t n = 0;
    for (int64_t pct : b.thresholds_pct) {
      if (++n > 5) break;
      Entries e{{"enabled", flag(true)},
                {"operator", lit("GreaterThanOrEqualTo")},
                {"threshold", num(pct)},
                {"thresholdType", lit("Actual")}};
      if (!b.contact_emails.empty())
        e.push_back({"contactEmails", Value::strings(b.contact_emails)});
      e.push_back({"contactGroups", arr({expr("platform.outputs.actionGroupId")})});
      notes.push_back({fmt::format("actual_{}_percent", pct), obj(e)});
    }
    Entries props{{"category", lit("Cost")},
                  {"amount", expr(b.amount.to_string())},
                  {"timeGrain", lit("Monthly")},
                  {"timePeriod", obj({{"startDate", expr("budgetStartDate")}})}};
    if (!b.environment.empty()) {
      props.push_back(
          {"filter", obj({{"tags", obj({{"name", lit("environment")},
                                        {"operator", lit("In")},
                                        {"values", Value::strings({b.environment})}})}})});
    }
    props.push_back({"notifications", obj(notes)});
    v.push_back(bicep_resource(
        "budget_" + b.id, "Microsoft.Consumption/budgets",
        obj({{"name", lit("budget-" + d.stem + "-" + code_id(b.name))},
             {"properties", obj(props)}}),
        b.environment.empty()
            ? "Budget '" + b.name + "': the whole subscription."
            : "Budget '" + b.name + "': resources tagged environment = " + b.environment + "."));
  }
  v.push_back(output("aksName", "string", expr("platform.outputs.aksName")));
  v.push_back(output("keyVaultUri", "string", expr("platform.outputs.keyVaultUri")));
  return write_bicep(v, generated_header(d,
                                         "Subscription scope: resource groups, Azure Policy, "
                                         "budgets, and the modules that\ndeploy into the groups."));
}

}  // namespace

Files emit_bicep(const Deployment& d) {
  Files f;
  f["main.bicep"] = main_file(d);
  f["platform.bicep"] = platform_file(d);
  std::set<std::string> envs;
  for (const auto& b : d.dev_boxes) envs.insert(b.environment);
  for (const auto& env : envs) f["devboxes-" + env + ".bicep"] = bicep::devboxes_file(d, env);
  return f;
}

}  // namespace codefleet::iac
