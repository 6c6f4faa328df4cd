// Terraform: Key Vault and policies, monitoring and alerts, budgets, backup, dev boxes,
// AI Services, and the Application Gateway with its WAF.
#include <set>

#include "core/text.h"

#include <fmt/format.h>

#include "iac/tf_internal.h"

namespace codefleet::iac::tf {

namespace {

Value tags(const std::map<std::string, std::string>& t) { return Value::string_map(t); }

HclBlock dns_zone(const Deployment& d, const std::string& id, const std::string& zone) {
  HclBlock z("resource", {"azurerm_private_dns_zone", id});
  z.attr("name", str(zone));
  z.attr("resource_group_name", expr("azurerm_resource_group.platform.name"));
  z.attr("tags", tags(d.platform_tags));
  return z;
}

HclBlock dns_link(const Deployment& d, const std::string& id) {
  HclBlock l("resource", {"azurerm_private_dns_zone_virtual_network_link", id});
  l.attr("name", str(d.vnet_name));
  l.attr("resource_group_name", expr("azurerm_resource_group.platform.name"));
  l.attr("private_dns_zone_name", expr("azurerm_private_dns_zone." + id + ".name"));
  l.attr("virtual_network_id", expr("azurerm_virtual_network.main.id"));
  l.attr("tags", tags(d.platform_tags));
  return l;
}

HclBlock policy(const Deployment& d, const std::string& id, const std::string& definition,
                const std::string& display, Value parameters, const std::string& comment) {
  HclBlock p("resource", {"azurerm_subscription_policy_assignment", id}, comment);
  p.attr("name", str(d.stem + "-" + code_id(id)));
  p.attr("subscription_id", expr("data.azurerm_subscription.current.id"));
  p.attr("policy_definition_id",
         str("/providers/Microsoft.Authorization/policyDefinitions/" + definition));
  p.attr("display_name", str(display));
  p.attr("parameters", Value::call("jsonencode", {std::move(parameters)}));
  return p;
}

std::string security_tf(const Deployment& d) {
  std::vector<HclBlock> v;
  HclBlock kv = resource("azurerm_key_vault", "main", d.key_vault_name, "platform",
                         "Secrets: RBAC authorization, purge protection, reachable only through "
                         "its private endpoint.");
  kv.attr("tenant_id", expr("data.azurerm_client_config.current.tenant_id"));
  kv.attr("sku_name", str("standard"));
  kv.attr("rbac_authorization_enabled", Value::boolean(true));
  kv.attr("purge_protection_enabled", Value::boolean(true));
  kv.attr("soft_delete_retention_days", Value::num(90));
  kv.attr("public_network_access_enabled", Value::boolean(false));
  kv.attr("tags", tags(d.platform_tags));
  auto& acl = kv.block("network_acls");
  acl.attr("bypass", str("AzureServices"));
  acl.attr("default_action", str("Deny"));
  v.push_back(kv);
  v.push_back(dns_zone(d, "key_vault", "privatelink.vaultcore.azure.net"));
  v.push_back(dns_link(d, "key_vault"));
  v.push_back(private_endpoint(d, "key_vault", "azurerm_key_vault.main", "vault", {"key_vault"}));
  for (const auto& g : d.admin_groups) {
    HclBlock r("resource", {"azurerm_role_assignment", "key_vault_admin_" + code_id(g)});
    r.attr("scope", expr("azurerm_key_vault.main.id"));
    r.attr("role_definition_name", str("Key Vault Administrator"));
    r.attr("principal_id", expr("var.entra_group_object_ids[" + hcl_quote(g) + "]"));
    v.push_back(r);
  }
  auto listed = [](const std::string& key, const std::vector<std::string>& values) {
    return Value::object({{key, Value::object({{"value", Value::strings(values)}})}});
  };
  v.push_back(policy(d, "allowed_locations", kPolicyAllowedLocations, "Allowed locations",
                     listed("listOfAllowedLocations", d.allowed_locations),
                     "Azure Policy: only the spec's regions,"));
  v.push_back(policy(d, "allowed_sizes", kPolicyAllowedSizes, "Allowed virtual machine size SKUs",
                     listed("listOfAllowedSKUs", d.allowed_sizes), "only the spec's VM sizes,"));
  for (const auto& t : d.required_tags) {
    HclBlock p = policy(d, "require_tag_" + code_id(t), kPolicyRequireRgTag,
                        "Require a tag on resource groups: " + t,
                        Value::object({{"tagName", Value::object({{"value", str(t)}})}}),
                        "and the spec's required tags on resource groups (AKS manages its node "
                        "resource group).");
    p.attr("not_scopes",
           Value::list({expr("\"${data.azurerm_subscription.current.id}/resourceGroups/" +
                             d.aks_node_rg + "\"")}));
    v.push_back(p);
  }
  return write_hcl(v, generated_header(d, "Key Vault, its private endpoint, and Azure Policy."));
}

std::string monitoring_tf(const Deployment& d) {
  std::vector<HclBlock> v;
  HclBlock law = resource("azurerm_log_analytics_workspace", "main", d.log_analytics_name);
  law.attr("sku", str("PerGB2018"));
  law.attr("retention_in_days", Value::num(30));
  law.attr("tags", tags(d.platform_tags));
  v.push_back(law);
  HclBlock ai = resource("azurerm_application_insights", "main", "appi-" + d.stem);
  ai.attr("workspace_id", expr("azurerm_log_analytics_workspace.main.id"));
  ai.attr("application_type", str("web"));
  ai.attr("tags", tags(d.platform_tags));
  v.push_back(ai);
  HclBlock ag("resource", {"azurerm_monitor_action_group", "main"},
              "Who hears about quota and budget alerts.");
  ag.attr("name", str("ag-" + d.stem));
  ag.attr("resource_group_name", expr("azurerm_resource_group.platform.name"));
  ag.attr("short_name", str(d.stem.substr(0, 12)));
  ag.attr("tags", tags(d.platform_tags));
  for (size_t i = 0; i < d.alert_emails.size(); ++i) {
    auto& e = ag.block("email_receiver");
    e.attr("name", str(fmt::format("email-{}", i + 1)));
    e.attr("email_address", str(d.alert_emails[i]));
    e.attr("use_common_alert_schema", Value::boolean(true));
  }
  v.push_back(ag);
  for (const auto& q : d.quota_alerts) {
    HclBlock a = resource(
        "azurerm_monitor_scheduled_query_rules_alert_v2", "quota_" + q.id,
        "alert-" + d.stem + "-quota-" + to_lower(q.family), "platform",
        fmt::format("Quota use: running nodes of {} at 80% of its {} vCPUs. Deallocated nodes\n"
                    "hold quota too but do not report; the planner counts them.",
                    q.family, q.limit));
    a.attr("description",
           str(fmt::format("{} vCPUs in use ≥ {} of {}", q.family, q.threshold, q.limit)));
    a.attr("scopes", Value::list({expr("azurerm_log_analytics_workspace.main.id")}));
    a.attr("severity", Value::num(2));
    a.attr("evaluation_frequency", str("PT15M"));
    a.attr("window_duration", str("PT15M"));
    a.attr("tags", tags(d.platform_tags));
    auto& c = a.block("criteria");
    c.attr("query", str(quota_query(q)));
    c.attr("time_aggregation_method", str("Maximum"));
    c.attr("metric_measure_column", str("vcpus"));
    c.attr("operator", str("GreaterThanOrEqual"));
    c.attr("threshold", Value::num(q.threshold));
    auto& fp = c.block("failing_periods");
    fp.attr("minimum_failing_periods_to_trigger_alert", Value::num(1));
    fp.attr("number_of_evaluation_periods", Value::num(1));
    a.block("action").attr("action_groups",
                           Value::list({expr("azurerm_monitor_action_group.main.id")}));
    v.push_back(a);
  }
  // Diagnostic settings for everything that logs.
  v.push_back(diagnostics("key_vault", "azurerm_key_vault.main"));
  v.push_back(diagnostics("aks", "azurerm_kubernetes_cluster.main"));
  v.push_back(diagnostics("appgw", "azurerm_application_gateway.main"));
  for (const auto& s : d.subnets) {
    if (!s.rules.empty()) {
      v.push_back(diagnostics("nsg_" + s.id, "azurerm_network_security_group." + s.id));
    }
  }
  for (const auto& a : d.ai_accounts) {
    v.push_back(diagnostics("ai_" + a.id, "azurerm_cognitive_account." + a.id));
  }
  if (d.backup) v.push_back(diagnostics("backup", "azurerm_recovery_services_vault.main"));
  return write_hcl(v, generated_header(d,
                                       "Log Analytics, Application Insights, diagnostic "
                                       "settings, the action group and quota alerts."));
}

std::string cost_tf(const Deployment& d) {
  std::vector<HclBlock> v;
  for (const auto& b : d.budgets) {
    HclBlock r("resource", {"azurerm_consumption_budget_subscription", b.id},
               b.environment.empty()
                   ? "Budget '" + b.name + "': the whole subscription."
                   : "Budget '" + b.name + "': resources tagged environment = " + b.environment +
                         " (AKS node pools carry their pool's tags).");
    r.attr("name", str("budget-" + d.stem + "-" + code_id(b.name)));
    r.attr("subscription_id", expr("data.azurerm_subscription.current.id"));
    r.attr("amount", expr(b.amount.to_string()));
    r.attr("time_grain", str("Monthly"));
    r.block("time_period")
        .attr("start_date", expr("formatdate(\"YYYY-MM-01'T'00:00:00Z\", timestamp())"));
    if (!b.environment.empty()) {
      auto& t = r.block("filter").block("tag");
      t.attr("name", str("environment"));
      t.attr("values", Value::strings({b.environment}));
    }
    size_t n = 0;
    for (int64_t pct : b.thresholds_pct) {
      if (++n > 5) break;  // Azure allows five notifications per budget
      auto& nb = r.block("notification");
      nb.attr("enabled", Value::boolean(true));
      nb.attr("threshold", Value::num(pct));
      nb.attr("operator", str("GreaterThanOrEqualTo"));
      nb.attr("threshold_type", str("Actual"));
      if (!b.contact_emails.empty()) nb.attr("contact_emails", Value::strings(b.contact_emails));
      nb.attr("contact_groups", Value::list({expr("azurerm_monitor_action_group.main.id")}));
    }
    r.block("lifecycle").attr("ignore_changes", Value::list({expr("time_period")}));
    v.push_back(r);
  }
  return write_hcl(v, generated_header(d, "Consumption budgets with the spec's thresholds."));
}

std::string backup_tf(const Deployment& d) {
  std::vector<HclBlock> v;
  std::string notes =
      "Azure Backup cannot protect a VM that hibernates: this policy is for "
      "machines that do not.";
  for (const auto& n : d.backup_notes) notes += "\n" + n + ".";
  HclBlock vault =
      resource("azurerm_recovery_services_vault", "main", "rsv-" + d.stem, "platform", notes);
  vault.attr("sku", str("Standard"));
  vault.attr("soft_delete_enabled", Value::boolean(true));
  vault.attr("storage_mode_type", str("GeoRedundant"));
  vault.attr("public_network_access_enabled", Value::boolean(false));
  vault.attr("tags", tags(d.platform_tags));
  v.push_back(vault);
  HclBlock p("resource", {"azurerm_backup_policy_vm", "main"},
             fmt::format("RPO {}h, retention {} days (the spec's backup section).",
                         d.backup_rpo_hours, d.backup_retention_days));
  p.attr("name", str("vm-rpo-" + std::to_string(d.backup_rpo_hours) + "h"));
  p.attr("resource_group_name", expr("azurerm_resource_group.platform.name"));
  p.attr("recovery_vault_name", expr("azurerm_recovery_services_vault.main.name"));
  p.attr("policy_type", str("V2"));
  p.attr("timezone", str("UTC"));
  auto& b = p.block("backup");
  if (d.backup_rpo_hours >= 24) {
    b.attr("frequency", str("Daily"));
    b.attr("time", str("23:00"));
  } else {
    int64_t interval = 4;
    for (int64_t h : {4, 6, 8, 12}) {
      if (h <= d.backup_rpo_hours) interval = h;
    }
    b.attr("frequency", str("Hourly"));
    b.attr("time", str("00:00"));
    b.attr("hour_interval", Value::num(interval));
    b.attr("hour_duration", Value::num(24));
  }
  p.block("retention_daily").attr("count", Value::num(d.backup_retention_days));
  v.push_back(p);
  return write_hcl(v, generated_header(d, "Azure Backup: a Recovery Services vault and policy."));
}

std::string devbox_tf(const Deployment& d) {
  std::vector<HclBlock> v;
  for (const auto& b : d.dev_boxes) {
    std::string rg = code_id(b.environment);
    HclBlock nic = resource("azurerm_network_interface", b.id, "nic-" + b.vm_name, rg,
                            "Dev box '" + b.spec_name + "': no public IP (VPN or Bastion).");
    nic.attr("tags", tags(b.tags));
    auto& ip = nic.block("ip_configuration");
    ip.attr("name", str("internal"));
    ip.attr("subnet_id", expr("azurerm_subnet." + b.subnet_id + ".id"));
    ip.attr("private_ip_address_allocation", str("Dynamic"));
    v.push_back(nic);
    std::string comment =
        "Hibernation enabled" + (b.sku_note.empty() ? std::string(".") : ": " + b.sku_note + ".");
    HclBlock vm = resource("azurerm_linux_virtual_machine", b.id, b.vm_name, rg, comment);
    vm.attr("size", str(b.sku));
    vm.attr("admin_username", str("codefleet"));
    vm.attr("network_interface_ids",
            Value::list({expr("azurerm_network_interface." + b.id + ".id")}));
    vm.attr("encryption_at_host_enabled", Value::boolean(b.host_encryption));
    vm.attr("tags", tags(b.tags));
    auto& key = vm.block("admin_ssh_key");
    key.attr("username", str("codefleet"));
    key.attr("public_key", expr("var.dev_box_ssh_public_key"));
    auto& os = vm.block("os_disk");
    os.attr("caching", str("ReadWrite"));
    os.attr("storage_account_type", str(b.os_disk_type));
    os.attr("disk_size_gb", Value::num(b.os_disk_size_gb));
    auto& img = vm.block("source_image_reference");
    img.attr("publisher", str("Canonical"));
    img.attr("offer", str("ubuntu-24_04-lts"));
    img.attr("sku", str("server"));
    img.attr("version", str("latest"));
    vm.block("additional_capabilities").attr("hibernation_enabled", Value::boolean(true));
    vm.block("identity").attr("type", str("SystemAssigned"));
    v.push_back(vm);
    HclBlock s("resource", {"azurerm_dev_test_global_vm_shutdown_schedule", b.id},
               "Auto-shutdown at the end of the pool's schedule.");
    s.attr("virtual_machine_id", expr("azurerm_linux_virtual_machine." + b.id + ".id"));
    s.attr("location", expr("azurerm_resource_group." + rg + ".location"));
    s.attr("enabled", Value::boolean(true));
    s.attr("daily_recurrence_time", str(b.shutdown_time));
    s.attr("timezone", str(b.windows_time_zone));
    s.attr("tags", tags(b.tags));
    s.block("notification_settings").attr("enabled", Value::boolean(false));
    v.push_back(s);
  }
  return write_hcl(v, generated_header(d, "Dev boxes: VMs that hibernate, with auto-shutdown."));
}

std::string ai_tf(const Deployment& d) {
  std::vector<HclBlock> v;
  v.push_back(dns_zone(d, "cognitive", "privatelink.cognitiveservices.azure.com"));
  v.push_back(dns_link(d, "cognitive"));
  v.push_back(dns_zone(d, "openai", "privatelink.openai.azure.com"));
  v.push_back(dns_link(d, "openai"));
  for (const auto& a : d.ai_accounts) {
    HclBlock acc = resource("azurerm_cognitive_account", a.id, a.name, "platform",
                            "AI Foundry: an AI Services account; callers use Entra ID and "
                            "managed identities.");
    acc.attr("kind", str("AIServices"));
    acc.attr("sku_name", str("S0"));
    acc.attr("custom_subdomain_name", str(a.subdomain));
    acc.attr("local_auth_enabled", Value::boolean(a.local_auth));
    acc.attr("public_network_access_enabled", Value::boolean(false));
    acc.attr("tags", tags(d.platform_tags));
    acc.block("identity").attr("type", str("SystemAssigned"));
    acc.block("network_acls").attr("default_action", str("Deny"));
    v.push_back(acc);
    v.push_back(private_endpoint(d, "ai_" + a.id, "azurerm_cognitive_account." + a.id, "account",
                                 {"cognitive", "openai"}));
    std::string previous;
    for (const auto& dep : a.deployments) {
      HclBlock r("resource", {"azurerm_cognitive_deployment", dep.id},
                 dep.tpm > 0 ? fmt::format("{} tokens per minute = capacity {} (1,000 TPM a unit).",
                                           dep.tpm, dep.capacity)
                             : "No TPM limit in the spec: the smallest capacity.");
      if (!previous.empty()) {
        // Azure takes one deployment change per account at a time.
        r.attr("depends_on", Value::list({expr("azurerm_cognitive_deployment." + previous)}));
      }
      previous = dep.id;
      r.attr("name", str(dep.name));
      r.attr("cognitive_account_id", expr("azurerm_cognitive_account." + a.id + ".id"));
      auto& m = r.block("model");
      m.attr("format", str("OpenAI"));
      m.attr("name", str(dep.model));
      auto& sku = r.block("sku");
      sku.attr("name", str("Standard"));
      sku.attr("capacity", Value::num(dep.capacity));
      v.push_back(r);
    }
  }
  return write_hcl(v, generated_header(d,
                                       "AI Foundry: AI Services and the spec's model "
                                       "deployments with their capacities."));
}

std::string gateway_tf(const Deployment& d) {
  std::vector<HclBlock> v;
  HclBlock pip = resource("azurerm_public_ip", "appgw", "pip-" + d.stem + "-appgw");
  pip.attr("allocation_method", str("Static"));
  pip.attr("sku", str("Standard"));
  pip.attr("zones", Value::strings({"1", "2", "3"}));
  pip.attr("tags", tags(d.platform_tags));
  v.push_back(pip);
  HclBlock id = resource("azurerm_user_assigned_identity", "appgw", "id-" + d.stem + "-appgw");
  id.attr("tags", tags(d.platform_tags));
  v.push_back(id);
  HclBlock role("resource", {"azurerm_role_assignment", "appgw_key_vault"},
                "The gateway reads its TLS certificate from Key Vault.");
  role.attr("scope", expr("azurerm_key_vault.main.id"));
  role.attr("role_definition_name", str("Key Vault Secrets User"));
  role.attr("principal_id", expr("azurerm_user_assigned_identity.appgw.principal_id"));
  v.push_back(role);
  HclBlock waf = resource("azurerm_web_application_firewall_policy", "main", "waf-" + d.stem);
  waf.attr("tags", tags(d.platform_tags));
  auto& ps = waf.block("policy_settings");
  ps.attr("enabled", Value::boolean(true));
  ps.attr("mode", str("Prevention"));
  ps.attr("request_body_check", Value::boolean(true));
  auto& mrs = waf.block("managed_rules").block("managed_rule_set");
  mrs.attr("type", str("OWASP"));
  mrs.attr("version", str("3.2"));
  v.push_back(waf);
  HclBlock g = resource("azurerm_application_gateway", "main", "agw-" + d.stem, "platform",
                        "The API's front door: TLS, WAF (OWASP 3.2, prevention), to the API's "
                        "internal load balancer.");
  g.body.insert(
      g.body.begin(),
      {"depends_on", Value::list({expr("azurerm_role_assignment.appgw_key_vault")}), "", nullptr});
  g.attr("firewall_policy_id", expr("azurerm_web_application_firewall_policy.main.id"));
  g.attr("force_firewall_policy_association", Value::boolean(true));
  g.attr("zones", Value::strings({"1", "2", "3"}));
  g.attr("tags", tags(d.platform_tags));
  auto& sku = g.block("sku");
  sku.attr("name", str("WAF_v2"));
  sku.attr("tier", str("WAF_v2"));
  auto& as = g.block("autoscale_configuration");
  as.attr("min_capacity", Value::num(1));
  as.attr("max_capacity", Value::num(10));
  auto& ident = g.block("identity");
  ident.attr("type", str("UserAssigned"));
  ident.attr("identity_ids", Value::list({expr("azurerm_user_assigned_identity.appgw.id")}));
  auto& gip = g.block("gateway_ip_configuration");
  gip.attr("name", str("gateway"));
  gip.attr("subnet_id", expr("azurerm_subnet.appgw.id"));
  auto& fp = g.block("frontend_port");
  fp.attr("name", str("https"));
  fp.attr("port", Value::num(443));
  auto& fip = g.block("frontend_ip_configuration");
  fip.attr("name", str("public"));
  fip.attr("public_ip_address_id", expr("azurerm_public_ip.appgw.id"));
  auto& cert = g.block("ssl_certificate");
  cert.attr("name", str("api"));
  cert.attr("key_vault_secret_id", expr("var.api_tls_certificate_secret_id"));
  auto& pol = g.block("ssl_policy");
  pol.attr("policy_type", str("Predefined"));
  pol.attr("policy_name", str("AppGwSslPolicy20220101"));
  auto& pool = g.block("backend_address_pool");
  pool.attr("name", str("codefleet-api"));
  pool.attr("ip_addresses", Value::list({expr("var.api_backend_ip")}));
  auto& probe = g.block("probe");
  probe.attr("name", str("healthz"));
  probe.attr("protocol", str("Http"));
  probe.attr("host", str("127.0.0.1"));
  probe.attr("port", Value::num(8080));
  probe.attr("path", str("/healthz"));
  probe.attr("interval", Value::num(30));
  probe.attr("timeout", Value::num(30));
  probe.attr("unhealthy_threshold", Value::num(3));
  auto& hs = g.block("backend_http_settings");
  hs.attr("name", str("codefleet-api"));
  hs.attr("cookie_based_affinity", str("Disabled"));
  hs.attr("port", Value::num(8080));
  hs.attr("protocol", str("Http"));
  hs.attr("request_timeout", Value::num(60));
  hs.attr("probe_name", str("healthz"));
  auto& l = g.block("http_listener");
  l.attr("name", str("https"));
  l.attr("frontend_ip_configuration_name", str("public"));
  l.attr("frontend_port_name", str("https"));
  l.attr("protocol", str("Https"));
  l.attr("ssl_certificate_name", str("api"));
  auto& rr = g.block("request_routing_rule");
  rr.attr("name", str("api"));
  rr.attr("priority", Value::num(100));
  rr.attr("rule_type", str("Basic"));
  rr.attr("http_listener_name", str("https"));
  rr.attr("backend_address_pool_name", str("codefleet-api"));
  rr.attr("backend_http_settings_name", str("codefleet-api"));
  v.push_back(g);
  return write_hcl(v, generated_header(d, "Application Gateway (WAF_v2) in front of the API."));
}

}  // namespace

void services_tf(const Deployment& d, Files& f) {
  f["security.tf"] = security_tf(d);
  f["monitoring.tf"] = monitoring_tf(d);
  if (!d.budgets.empty()) f["cost.tf"] = cost_tf(d);
  if (d.backup) f["backup.tf"] = backup_tf(d);
  if (!d.dev_boxes.empty()) f["devbox.tf"] = devbox_tf(d);
  if (!d.ai_accounts.empty()) f["ai.tf"] = ai_tf(d);
  f["gateway.tf"] = gateway_tf(d);
}

}  // namespace codefleet::iac::tf
