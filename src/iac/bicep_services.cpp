// Bicep: monitoring, Key Vault, backup, AI Services, the Application Gateway, and the
// dev boxes' files.
#include <fmt/format.h>

#include "core/text.h"
#include "iac/bicep_internal.h"

namespace codefleet::iac::bicep {

namespace {

std::string subnet_ref(const Deployment& d, const std::string& id) {
  for (const auto& s : d.subnets) {
    if (s.id == id) return "'${vnet.id}/subnets/" + s.name + "'";
  }
  return "''";
}

BicepDecl role(const std::string& symbol, const std::string& scope, const std::string& role_guid,
               const std::string& principal, const std::string& type, const std::string& salt,
               const std::string& comment = {}) {
  return bicep_resource(
      symbol, "Microsoft.Authorization/roleAssignments",
      obj({{"name", expr("guid(" + scope + ".id, " + salt + ", '" + role_guid + "')")},
           {"scope", expr(scope)},
           {"properties",
            obj({{"roleDefinitionId",
                  expr("subscriptionResourceId('Microsoft.Authorization/roleDefinitions', '" +
                       role_guid + "')")},
                 {"principalId", expr(principal)},
                 {"principalType", lit(type)}})}}),
      comment);
}

void private_link(const Deployment& d, std::vector<BicepDecl>& v, const std::string& id,
                  const std::string& target, const std::string& subresource,
                  const std::vector<std::pair<std::string, std::string>>& zones) {
  std::vector<Value> configs;
  for (const auto& [zid, zone] : zones) {
    v.push_back(bicep_resource(
        "dns_" + zid, "Microsoft.Network/privateDnsZones",
        obj({{"name", lit(zone)}, {"location", lit("global")}, {"tags", tags(d.platform_tags)}})));
    v.push_back(bicep_resource(
        "dns_link_" + zid, "Microsoft.Network/privateDnsZones/virtualNetworkLinks",
        obj({{"parent", expr("dns_" + zid)},
             {"name", lit(d.vnet_name)},
             {"location", lit("global")},
             {"tags", tags(d.platform_tags)},
             {"properties", obj({{"registrationEnabled", flag(false)},
                                 {"virtualNetwork", obj({{"id", expr("vnet.id")}})}})}})));
    configs.push_back(
        obj({{"name", lit(zid)},
             {"properties", obj({{"privateDnsZoneId", expr("dns_" + zid + ".id")}})}}));
  }
  v.push_back(bicep_resource(
      "pe_" + id, "Microsoft.Network/privateEndpoints",
      obj({{"name", lit("pe-" + d.stem + "-" + id)},
           {"location", expr("location")},
           {"tags", tags(d.platform_tags)},
           {"properties",
            obj({{"subnet", obj({{"id", expr(subnet_ref(d, "private_endpoints"))}})},
                 {"privateLinkServiceConnections",
                  arr({obj({{"name", lit(id)},
                            {"properties",
                             obj({{"privateLinkServiceId", expr(target + ".id")},
                                  {"groupIds", Value::strings({subresource})}})}})})}})}})));
  v.push_back(
      bicep_resource("pe_" + id + "_dns", "Microsoft.Network/privateEndpoints/privateDnsZoneGroups",
                     obj({{"parent", expr("pe_" + id)},
                          {"name", lit("default")},
                          {"properties", obj({{"privateDnsZoneConfigs", arr(configs)}})}})));
}

void monitoring(const Deployment& d, std::vector<BicepDecl>& v) {
  v.push_back(bicep_resource("law", "Microsoft.OperationalInsights/workspaces",
                             obj({{"name", lit(d.log_analytics_name)},
                                  {"location", expr("location")},
                                  {"tags", tags(d.platform_tags)},
                                  {"properties", obj({{"sku", obj({{"name", lit("PerGB2018")}})},
                                                      {"retentionInDays", num(30)}})}}),
                             "Log Analytics: every log and diagnostic setting ends here."));
  v.push_back(bicep_resource(
      "appi", "Microsoft.Insights/components",
      obj({{"name", lit("appi-" + d.stem)},
           {"location", expr("location")},
           {"tags", tags(d.platform_tags)},
           {"kind", lit("web")},
           {"properties",
            obj({{"Application_Type", lit("web")}, {"WorkspaceResourceId", expr("law.id")}})}})));
  std::vector<Value> receivers;
  for (size_t i = 0; i < d.alert_emails.size(); ++i) {
    receivers.push_back(obj({{"name", lit(fmt::format("email-{}", i + 1))},
                             {"emailAddress", lit(d.alert_emails[i])},
                             {"useCommonAlertSchema", flag(true)}}));
  }
  v.push_back(bicep_resource("ag", "Microsoft.Insights/actionGroups",
                             obj({{"name", lit("ag-" + d.stem)},
                                  {"location", lit("global")},
                                  {"tags", tags(d.platform_tags)},
                                  {"properties", obj({{"groupShortName", lit(d.stem.substr(0, 12))},
                                                      {"enabled", flag(true)},
                                                      {"emailReceivers", arr(receivers)}})}}),
                             "Who hears about quota and budget alerts."));
  for (const auto& q : d.quota_alerts) {
    v.push_back(bicep_resource(
        "quota_" + q.id, "Microsoft.Insights/scheduledQueryRules",
        obj({{"name", lit("alert-" + d.stem + "-quota-" + to_lower(q.family))},
             {"location", expr("location")},
             {"tags", tags(d.platform_tags)},
             {"properties",
              obj({{"description",
                    lit(fmt::format("{} vCPUs in use ≥ {} of {}", q.family, q.threshold, q.limit))},
                   {"severity", num(2)},
                   {"enabled", flag(true)},
                   {"evaluationFrequency", lit("PT15M")},
                   {"windowSize", lit("PT15M")},
                   {"scopes", arr({expr("law.id")})},
                   {"criteria",
                    obj({{"allOf", arr({obj({{"query", lit(quota_query(q))},
                                             {"timeAggregation", lit("Maximum")},
                                             {"metricMeasureColumn", lit("vcpus")},
                                             {"operator", lit("GreaterThanOrEqual")},
                                             {"threshold", num(q.threshold)},
                                             {"failingPeriods",
                                              obj({{"numberOfEvaluationPeriods", num(1)},
                                                   {"minFailingPeriodsToAlert", num(1)}})}})})}})},
                   {"actions", obj({{"actionGroups", arr({expr("ag.id")})}})}})}}),
        fmt::format("Quota use: running nodes of {} at 80% of its {} vCPUs.", q.family, q.limit)));
  }
}

void key_vault(const Deployment& d, std::vector<BicepDecl>& v) {
  v.push_back(bicep_resource(
      "kv", "Microsoft.KeyVault/vaults",
      obj({{"name", lit(d.key_vault_name)},
           {"location", expr("location")},
           {"tags", tags(d.platform_tags)},
           {"properties", obj({{"tenantId", expr("tenant().tenantId")},
                               {"sku", obj({{"family", lit("A")}, {"name", lit("standard")}})},
                               {"enableRbacAuthorization", flag(true)},
                               {"enablePurgeProtection", flag(true)},
                               {"enableSoftDelete", flag(true)},
                               {"softDeleteRetentionInDays", num(90)},
                               {"publicNetworkAccess", lit("Disabled")},
                               {"networkAcls", obj({{"bypass", lit("AzureServices")},
                                                    {"defaultAction", lit("Deny")}})}})}}),
      "Secrets: RBAC authorization, purge protection, reachable only through its private "
      "endpoint."));
  private_link(d, v, "key_vault", "kv", "vault",
               {{"key_vault", "privatelink.vaultcore.azure.net"}});
  for (const auto& g : d.admin_groups) {
    v.push_back(role("kv_admin_" + code_id(g), "kv", kRoleKeyVaultAdministrator,
                     "entraGroupObjectIds[" + bicep_quote(g) + "]", "Group", bicep_quote(g)));
  }
}

void backup(const Deployment& d, std::vector<BicepDecl>& v) {
  std::string notes =
      "Azure Backup cannot protect a VM that hibernates: this policy is for machines that do not.";
  for (const auto& n : d.backup_notes) notes += "\n" + n + ".";
  v.push_back(bicep_resource(
      "rsv", "Microsoft.RecoveryServices/vaults",
      obj({{"name", lit("rsv-" + d.stem)},
           {"location", expr("location")},
           {"tags", tags(d.platform_tags)},
           {"sku", obj({{"name", lit("RS0")}, {"tier", lit("Standard")}})},
           {"properties",
            obj({{"publicNetworkAccess", lit("Disabled")},
                 {"securitySettings",
                  obj({{"softDeleteSettings", obj({{"softDeleteState", lit("Enabled")}})}})}})}}),
      notes));
  Value schedule;
  if (d.backup_rpo_hours >= 24) {
    schedule = obj(
        {{"schedulePolicyType", lit("SimpleSchedulePolicyV2")},
         {"scheduleRunFrequency", lit("Daily")},
         {"dailySchedule", obj({{"scheduleRunTimes", Value::strings({"2026-01-01T23:00:00Z"})}})}});
  } else {
    int64_t interval = 4;
    for (int64_t h : {4, 6, 8, 12}) {
      if (h <= d.backup_rpo_hours) interval = h;
    }
    schedule =
        obj({{"schedulePolicyType", lit("SimpleSchedulePolicyV2")},
             {"scheduleRunFrequency", lit("Hourly")},
             {"hourlySchedule", obj({{"interval", num(interval)},
                                     {"scheduleWindowStartTime", lit("2026-01-01T00:00:00Z")},
                                     {"scheduleWindowDuration", num(24)}})}});
  }
  v.push_back(bicep_resource(
      "backup_policy", "Microsoft.RecoveryServices/vaults/backupPolicies",
      obj({{"parent", expr("rsv")},
           {"name", lit("vm-rpo-" + std::to_string(d.backup_rpo_hours) + "h")},
           {"properties",
            obj({{"backupManagementType", lit("AzureIaasVM")},
                 {"policyType", lit("V2")},
                 {"timeZone", lit("UTC")},
                 {"instantRpRetentionRangeInDays", num(2)},
                 {"schedulePolicy", schedule},
                 {"retentionPolicy",
                  obj({{"retentionPolicyType", lit("LongTermRetentionPolicy")},
                       {"dailySchedule",
                        obj({{"retentionTimes", Value::strings({"2026-01-01T23:00:00Z"})},
                             {"retentionDuration", obj({{"count", num(d.backup_retention_days)},
                                                        {"durationType", lit("Days")}})}})}})}})}}),
      fmt::format("RPO {}h, retention {} days (the spec's backup section).", d.backup_rpo_hours,
                  d.backup_retention_days)));
}

void ai(const Deployment& d, std::vector<BicepDecl>& v) {
  for (const auto& a : d.ai_accounts) {
    v.push_back(bicep_resource(
        "ai_" + a.id, "Microsoft.CognitiveServices/accounts",
        obj({{"name", lit(a.name)},
             {"location", expr("location")},
             {"tags", tags(d.platform_tags)},
             {"kind", lit("AIServices")},
             {"sku", obj({{"name", lit("S0")}})},
             {"identity", obj({{"type", lit("SystemAssigned")}})},
             {"properties", obj({{"customSubDomainName", lit(a.subdomain)},
                                 {"disableLocalAuth", flag(!a.local_auth)},
                                 {"publicNetworkAccess", lit("Disabled")},
                                 {"networkAcls", obj({{"defaultAction", lit("Deny")}})}})}}),
        "AI Foundry: an AI Services account; callers use Entra ID and managed identities."));
    if (&a == &d.ai_accounts.front()) {
      private_link(d, v, "ai_" + a.id, "ai_" + a.id, "account",
                   {{"cognitive", "privatelink.cognitiveservices.azure.com"},
                    {"openai", "privatelink.openai.azure.com"}});
    }
    std::string previous;
    for (const auto& dep : a.deployments) {
      Entries body{{"parent", expr("ai_" + a.id)},
                   {"name", lit(dep.name)},
                   {"sku", obj({{"name", lit("Standard")}, {"capacity", num(dep.capacity)}})},
                   {"properties",
                    obj({{"model", obj({{"format", lit("OpenAI")}, {"name", lit(dep.model)}})}})}};
      if (!previous.empty()) body.push_back({"dependsOn", arr({expr(previous)})});
      v.push_back(bicep_resource(
          "deployment_" + dep.id, "Microsoft.CognitiveServices/accounts/deployments", obj(body),
          dep.tpm > 0 ? fmt::format("{} tokens per minute = capacity {} (1,000 TPM a unit).",
                                    dep.tpm, dep.capacity)
                      : "No TPM limit in the spec: the smallest capacity."));
      previous = "deployment_" + dep.id;
    }
  }
}

void gateway(const Deployment& d, std::vector<BicepDecl>& v) {
  std::string name = "agw-" + d.stem;
  auto sub = [&](const std::string& kind, const std::string& child) {
    return obj({{"id", expr("resourceId('Microsoft.Network/applicationGateways/" + kind + "', '" +
                            name + "', '" + child + "')")}});
  };
  v.push_back(
      bicep_resource("appgw_ip", "Microsoft.Network/publicIPAddresses",
                     obj({{"name", lit("pip-" + d.stem + "-appgw")},
                          {"location", expr("location")},
                          {"tags", tags(d.platform_tags)},
                          {"sku", obj({{"name", lit("Standard")}})},
                          {"zones", Value::strings({"1", "2", "3"})},
                          {"properties", obj({{"publicIPAllocationMethod", lit("Static")}})}})));
  v.push_back(bicep_resource("appgw_identity", "Microsoft.ManagedIdentity/userAssignedIdentities",
                             obj({{"name", lit("id-" + d.stem + "-appgw")},
                                  {"location", expr("location")},
                                  {"tags", tags(d.platform_tags)}})));
  v.push_back(role("appgw_kv", "kv", kRoleKeyVaultSecretsUser,
                   "appgw_identity.properties.principalId", "ServicePrincipal", "'appgw'",
                   "The gateway reads its TLS certificate from Key Vault."));
  v.push_back(bicep_resource(
      "waf", "Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies",
      obj({{"name", lit("waf-" + d.stem)},
           {"location", expr("location")},
           {"tags", tags(d.platform_tags)},
           {"properties",
            obj({{"policySettings", obj({{"state", lit("Enabled")},
                                         {"mode", lit("Prevention")},
                                         {"requestBodyCheck", flag(true)}})},
                 {"managedRules",
                  obj({{"managedRuleSets", arr({obj({{"ruleSetType", lit("OWASP")},
                                                     {"ruleSetVersion", lit("3.2")}})})}})}})}})));
  v.push_back(bicep_resource(
      "appgw", "Microsoft.Network/applicationGateways",
      obj({{"name", lit(name)},
           {"location", expr("location")},
           {"tags", tags(d.platform_tags)},
           {"zones", Value::strings({"1", "2", "3"})},
           {"identity",
            obj({{"type", lit("UserAssigned")},
                 {"userAssignedIdentities", obj({{"${appgw_identity.id}", obj({})}})}})},
           {"dependsOn", arr({expr("appgw_kv")})},
           {"properties",
            obj({{"sku", obj({{"name", lit("WAF_v2")}, {"tier", lit("WAF_v2")}})},
                 {"autoscaleConfiguration",
                  obj({{"minCapacity", num(1)}, {"maxCapacity", num(10)}})},
                 {"firewallPolicy", obj({{"id", expr("waf.id")}})},
                 {"forceFirewallPolicyAssociation", flag(true)},
                 {"gatewayIPConfigurations",
                  arr({obj({{"name", lit("gateway")},
                            {"properties",
                             obj({{"subnet", obj({{"id", expr(subnet_ref(d, "appgw"))}})}})}})})},
                 {"frontendIPConfigurations",
                  arr({obj({{"name", lit("public")},
                            {"properties",
                             obj({{"publicIPAddress", obj({{"id", expr("appgw_ip.id")}})}})}})})},
                 {"frontendPorts",
                  arr({obj({{"name", lit("https")}, {"properties", obj({{"port", num(443)}})}})})},
                 {"sslCertificates",
                  arr({obj({{"name", lit("api")},
                            {"properties",
                             obj({{"keyVaultSecretId", expr("apiTlsCertificateSecretId")}})}})})},
                 {"sslPolicy", obj({{"policyType", lit("Predefined")},
                                    {"policyName", lit("AppGwSslPolicy20220101")}})},
                 {"backendAddressPools",
                  arr({obj({{"name", lit("codefleet-api")},
                            {"properties",
                             obj({{"backendAddresses",
                                   arr({obj({{"ipAddress", expr("apiBackendIp")}})})}})}})})},
                 {"probes", arr({obj({{"name", lit("healthz")},
                                      {"properties", obj({{"protocol", lit("Http")},
                                                          {"host", lit("127.0.0.1")},
                                                          {"port", num(8080)},
                                                          {"path", lit("/healthz")},
                                                          {"interval", num(30)},
                                                          {"timeout", num(30)},
                                                          {"unhealthyThreshold", num(3)}})}})})},
                 {"backendHttpSettingsCollection",
                  arr({obj({{"name", lit("codefleet-api")},
                            {"properties", obj({{"port", num(8080)},
                                                {"protocol", lit("Http")},
                                                {"cookieBasedAffinity", lit("Disabled")},
                                                {"requestTimeout", num(60)},
                                                {"probe", sub("probes", "healthz")}})}})})},
                 {"httpListeners",
                  arr({obj(
                      {{"name", lit("https")},
                       {"properties",
                        obj({{"frontendIPConfiguration", sub("frontendIPConfigurations", "public")},
                             {"frontendPort", sub("frontendPorts", "https")},
                             {"protocol", lit("Https")},
                             {"sslCertificate", sub("sslCertificates", "api")}})}})})},
                 {"requestRoutingRules",
                  arr({obj(
                      {{"name", lit("api")},
                       {"properties",
                        obj({{"priority", num(100)},
                             {"ruleType", lit("Basic")},
                             {"httpListener", sub("httpListeners", "https")},
                             {"backendAddressPool", sub("backendAddressPools", "codefleet-api")},
                             {"backendHttpSettings",
                              sub("backendHttpSettingsCollection", "codefleet-api")}})}})})}})}}),
      "The API's front door: TLS, WAF (OWASP 3.2, prevention), to the API's internal load "
      "balancer."));
}

}  // namespace

void platform_services(const Deployment& d, std::vector<BicepDecl>& v) {
  monitoring(d, v);
  BicepDecl marker;  // platform_file puts the network and AKS here
  marker.symbol = "__network__";
  v.push_back(marker);
  key_vault(d, v);
  if (d.backup) backup(d, v);
  ai(d, v);
  gateway(d, v);
  v.push_back(diagnostics("diag_kv", "kv"));
  v.push_back(diagnostics("diag_aks", "aks"));
  v.push_back(diagnostics("diag_appgw", "appgw"));
  for (const auto& s : d.subnets) {
    if (!s.rules.empty()) v.push_back(diagnostics("diag_nsg_" + s.id, "nsg_" + s.id));
  }
  for (const auto& a : d.ai_accounts) v.push_back(diagnostics("diag_ai_" + a.id, "ai_" + a.id));
  if (d.backup) v.push_back(diagnostics("diag_rsv", "rsv"));
}

std::string devboxes_file(const Deployment& d, const std::string& env) {
  std::vector<BicepDecl> v;
  v.push_back(
      param("location", "string", "Region of the dev boxes.", expr("resourceGroup().location")));
  v.push_back(param("subnetId", "string", "Subnet of the environment."));
  v.push_back(
      param("sshPublicKey", "string", "SSH public key for the admin user.", std::nullopt, true));
  for (const auto& b : d.dev_boxes) {
    if (b.environment != env) continue;
    v.push_back(bicep_resource(
        "nic_" + b.id, "Microsoft.Network/networkInterfaces",
        obj({{"name", lit("nic-" + b.vm_name)},
             {"location", expr("location")},
             {"tags", tags(b.tags)},
             {"properties",
              obj({{"ipConfigurations",
                    arr({obj({{"name", lit("internal")},
                              {"properties",
                               obj({{"subnet", obj({{"id", expr("subnetId")}})},
                                    {"privateIPAllocationMethod", lit("Dynamic")}})}})})}})}}),
        "Dev box '" + b.spec_name + "': no public IP (VPN or Bastion)."));
    v.push_back(bicep_resource(
        "vm_" + b.id, "Microsoft.Compute/virtualMachines",
        obj({{"name", lit(b.vm_name)},
             {"location", expr("location")},
             {"tags", tags(b.tags)},
             {"identity", obj({{"type", lit("SystemAssigned")}})},
             {"properties",
              obj({{"hardwareProfile", obj({{"vmSize", lit(b.sku)}})},
                   {"additionalCapabilities", obj({{"hibernationEnabled", flag(true)}})},
                   {"securityProfile", obj({{"encryptionAtHost", flag(b.host_encryption)}})},
                   {"osProfile",
                    obj({{"computerName", lit(b.vm_name.substr(0, 15))},
                         {"adminUsername", lit("codefleet")},
                         {"linuxConfiguration",
                          obj({{"disablePasswordAuthentication", flag(true)},
                               {"ssh",
                                obj({{"publicKeys",
                                      arr({obj(
                                          {{"path", lit("/home/codefleet/.ssh/authorized_keys")},
                                           {"keyData", expr("sshPublicKey")}})})}})}})}})},
                   {"storageProfile",
                    obj({{"imageReference", obj({{"publisher", lit("Canonical")},
                                                 {"offer", lit("ubuntu-24_04-lts")},
                                                 {"sku", lit("server")},
                                                 {"version", lit("latest")}})},
                         {"osDisk", obj({{"createOption", lit("FromImage")},
                                         {"caching", lit("ReadWrite")},
                                         {"diskSizeGB", num(b.os_disk_size_gb)},
                                         {"managedDisk",
                                          obj({{"storageAccountType", lit(b.os_disk_type)}})}})}})},
                   {"networkProfile",
                    obj({{"networkInterfaces",
                          arr({obj({{"id", expr("nic_" + b.id + ".id")}})})}})}})}}),
        "Hibernation enabled" + (b.sku_note.empty() ? std::string(".") : ": " + b.sku_note + ".")));
    v.push_back(bicep_resource(
        "shutdown_" + b.id, "Microsoft.DevTestLab/schedules",
        obj({{"name", lit("shutdown-computevm-" + b.vm_name)},
             {"location", expr("location")},
             {"tags", tags(b.tags)},
             {"properties", obj({{"status", lit("Enabled")},
                                 {"taskType", lit("ComputeVmShutdownTask")},
                                 {"dailyRecurrence", obj({{"time", lit(b.shutdown_time)}})},
                                 {"timeZoneId", lit(b.windows_time_zone)},
                                 {"targetResourceId", expr("vm_" + b.id + ".id")},
                                 {"notificationSettings", obj({{"status", lit("Disabled")}})}})}}),
        "Auto-shutdown at the end of the pool's schedule."));
  }
  return write_bicep(v, generated_header(d, "Dev boxes of environment '" + env +
                                                "': VMs that hibernate, with auto-shutdown."));
}

}  // namespace codefleet::iac::bicep
