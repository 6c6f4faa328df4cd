#include "iac/bicep.h"

#include <algorithm>
#include <regex>
#include <set>

namespace codefleet::iac {

namespace {

std::string pad(int indent) { return std::string(static_cast<size_t>(indent) * 2, ' '); }

bool is_identifier(const std::string& s) {
  if (s.empty() || !(std::isalpha(static_cast<unsigned char>(s[0])) || s[0] == '_')) return false;
  return std::all_of(s.begin(), s.end(), [](char c) {
    return std::isalnum(static_cast<unsigned char>(c)) || c == '_';
  });
}

void comment_lines(std::string& out, const std::string& comment) {
  if (comment.empty()) return;
  size_t start = 0;
  while (start <= comment.size()) {
    size_t end = comment.find('\n', start);
    if (end == std::string::npos) end = comment.size();
    std::string line = comment.substr(start, end - start);
    out += line.empty() ? "//\n" : "// " + line + "\n";
    start = end + 1;
  }
}

}  // namespace

const std::map<std::string, std::string>& bicep_api_versions() {
  static const std::map<std::string, std::string> kVersions = {
      {"Microsoft.Authorization/policyAssignments", "2024-04-01"},
      {"Microsoft.Authorization/roleAssignments", "2022-04-01"},
      {"Microsoft.CognitiveServices/accounts", "2024-10-01"},
      {"Microsoft.CognitiveServices/accounts/deployments", "2024-10-01"},
      {"Microsoft.Compute/virtualMachines", "2024-07-01"},
      {"Microsoft.Consumption/budgets", "2023-05-01"},
      {"Microsoft.ContainerService/managedClusters", "2024-09-01"},
      {"Microsoft.ContainerService/managedClusters/agentPools", "2024-09-01"},
      {"Microsoft.DevTestLab/schedules", "2018-09-15"},
      {"Microsoft.Insights/actionGroups", "2023-01-01"},
      {"Microsoft.Insights/components", "2020-02-02"},
      {"Microsoft.Insights/diagnosticSettings", "2021-05-01-preview"},
      {"Microsoft.Insights/scheduledQueryRules", "2023-12-01"},
      {"Microsoft.KeyVault/vaults", "2023-07-01"},
      {"Microsoft.ManagedIdentity/userAssignedIdentities", "2023-01-31"},
      {"Microsoft.Network/ApplicationGatewayWebApplicationFirewallPolicies", "2024-05-01"},
      {"Microsoft.Network/applicationGateways", "2024-05-01"},
      {"Microsoft.Network/networkInterfaces", "2024-05-01"},
      {"Microsoft.Network/networkSecurityGroups", "2024-05-01"},
      {"Microsoft.Network/privateDnsZones", "2020-06-01"},
      {"Microsoft.Network/privateDnsZones/virtualNetworkLinks", "2020-06-01"},
      {"Microsoft.Network/privateEndpoints", "2024-05-01"},
      {"Microsoft.Network/privateEndpoints/privateDnsZoneGroups", "2024-05-01"},
      {"Microsoft.Network/publicIPAddresses", "2024-05-01"},
      {"Microsoft.Network/virtualNetworkGateways", "2024-05-01"},
      {"Microsoft.Network/virtualNetworks", "2024-05-01"},
      {"Microsoft.OperationalInsights/workspaces", "2023-09-01"},
      {"Microsoft.RecoveryServices/vaults", "2024-04-01"},
      {"Microsoft.RecoveryServices/vaults/backupPolicies", "2024-04-01"},
      {"Microsoft.Resources/resourceGroups", "2024-03-01"},
  };
  return kVersions;
}

BicepDecl bicep_resource(const std::string& symbol, const std::string& type, Value body,
                         const std::string& comment) {
  BicepDecl d;
  d.kind = BicepDecl::Kind::kResource;
  d.symbol = symbol;
  auto it = bicep_api_versions().find(type);
  d.type = type + "@" + (it == bicep_api_versions().end() ? "unknown" : it->second);
  d.value = std::move(body);
  d.comment = comment;
  return d;
}

std::string bicep_quote(const std::string& s) {
  std::string out = "'";
  for (size_t i = 0; i < s.size(); ++i) {
    char c = s[i];
    if (c == '\'' || c == '\\') {
      out += '\\';
      out += c;
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '$' && i + 1 < s.size() && s[i + 1] == '{') {
      out += "\\$";
    } else {
      out += c;
    }
  }
  return out + "'";
}

std::string bicep_value(const Value& v, int indent) {
  switch (v.kind) {
    case Value::Kind::kString:
      return bicep_quote(v.text);
    case Value::Kind::kNumber:
    case Value::Kind::kBool:
    case Value::Kind::kRef:
      return v.text;
    case Value::Kind::kCall: {
      std::string out = v.text + "(";
      for (size_t i = 0; i < v.items.size(); ++i) {
        out += (i ? ", " : "") + bicep_value(v.items[i], indent);
      }
      return out + ")";
    }
    case Value::Kind::kList: {
      if (v.items.empty()) return "[]";
      std::string out = "[\n";
      for (const auto& i : v.items) out += pad(indent + 1) + bicep_value(i, indent + 1) + "\n";
      return out + pad(indent) + "]";
    }
    case Value::Kind::kObject: {
      if (v.entries.empty()) return "{}";
      std::string out = "{\n";
      for (const auto& [k, e] : v.entries) {
        // A key "${expr}" is an interpolated key (a resource ID), written unescaped.
        bool interpolated = k.starts_with("${") && k.ends_with("}");
        std::string key = is_identifier(k) ? k : interpolated ? "'" + k + "'" : bicep_quote(k);
        out += pad(indent + 1) + key + ": " + bicep_value(e, indent + 1) + "\n";
      }
      return out + pad(indent) + "}";
    }
  }
  return "";
}

std::string write_bicep(const std::vector<BicepDecl>& decls, const std::string& header) {
  std::string out;
  comment_lines(out, header);
  BicepDecl::Kind last = BicepDecl::Kind::kTargetScope;
  bool first = true;
  for (const auto& d : decls) {
    // Params and vars stay together; everything else is separated by a blank line.
    bool tight = !first && d.kind == last && d.comment.empty() &&
                 (d.kind == BicepDecl::Kind::kParam || d.kind == BicepDecl::Kind::kVar ||
                  d.kind == BicepDecl::Kind::kOutput) &&
                 d.decorators.empty();
    if (!tight) out += "\n";
    comment_lines(out, d.comment);
    for (const auto& dec : d.decorators) out += "@" + dec + "\n";
    switch (d.kind) {
      case BicepDecl::Kind::kTargetScope:
        out += "targetScope = " + bicep_value(d.value) + "\n";
        break;
      case BicepDecl::Kind::kParam:
        out += "param " + d.symbol + " " + d.type;
        if (d.has_value) out += " = " + bicep_value(d.value);
        out += "\n";
        break;
      case BicepDecl::Kind::kVar:
        out += "var " + d.symbol + " = " + bicep_value(d.value) + "\n";
        break;
      case BicepDecl::Kind::kOutput:
        out += "output " + d.symbol + " " + d.type + " = " + bicep_value(d.value) + "\n";
        break;
      case BicepDecl::Kind::kResource:
      case BicepDecl::Kind::kModule:
        out += (d.kind == BicepDecl::Kind::kResource ? "resource " : "module ") + d.symbol + " " +
               bicep_quote(d.type) + " = " +
               (d.condition.empty() ? "" : "if (" + d.condition + ") ") + bicep_value(d.value) +
               "\n";
        break;
    }
    last = d.kind;
    first = false;
  }
  return out;
}

std::vector<BicepProblem> check_bicep(const std::string& text,
                                      const std::vector<std::string>& files) {
  static const std::set<std::string> kBuiltins = {"resourceGroup",
                                                  "subscription",
                                                  "tenant",
                                                  "resourceId",
                                                  "subscriptionResourceId",
                                                  "tenantResourceId",
                                                  "guid",
                                                  "utcNow",
                                                  "format",
                                                  "concat",
                                                  "toLower",
                                                  "uniqueString",
                                                  "true",
                                                  "false",
                                                  "null",
                                                  "if",
                                                  "json",
                                                  "string",
                                                  "int",
                                                  "bool",
                                                  "object",
                                                  "array",
                                                  "deployment",
                                                  "environment",
                                                  "empty",
                                                  "length",
                                                  "contains",
                                                  "union",
                                                  "first",
                                                  "last",
                                                  "substring",
                                                  "replace",
                                                  "split",
                                                  "join",
                                                  "take",
                                                  "targetScope",
                                                  "description",
                                                  "secure",
                                                  "minLength",
                                                  "allowed"};
  std::vector<BicepProblem> problems;
  std::set<std::string> declared;
  std::vector<std::pair<int, std::string>> lines;
  {
    size_t start = 0;
    int n = 1;
    while (start < text.size()) {
      size_t end = text.find('\n', start);
      if (end == std::string::npos) end = text.size();
      lines.emplace_back(n++, text.substr(start, end - start));
      start = end + 1;
    }
  }
  static const std::regex kDecl(
      R"(^(param|var|resource|module|output)\s+([A-Za-z_][A-Za-z0-9_]*)\s+(?:'([^']*)'|(\S+)))");
  static const std::regex kResourceType(
      R"(^([A-Za-z]+\.[A-Za-z]+/[A-Za-z/]+)@([0-9]{4}-[0-9]{2}-[0-9]{2}(-preview)?)$)");
  static const std::regex kIdent(R"([A-Za-z_][A-Za-z0-9_]*)");
  for (const auto& [n, raw] : lines) {
    std::string line = raw;
    if (auto c = line.find("//"); c != std::string::npos && line.find('\'') > c) line.resize(c);
    std::smatch m;
    std::string rest = line;
    if (std::regex_search(line, m, kDecl)) {
      std::string kind = m[1], symbol = m[2];
      if (kind == "resource") {
        std::string type = m[3];
        std::smatch t;
        if (!std::regex_match(type, t, kResourceType)) {
          problems.push_back({n, "'" + type + "' is not Type@api-version"});
        } else {
          auto it = bicep_api_versions().find(t[1]);
          if (it == bicep_api_versions().end()) {
            problems.push_back({n, "resource type " + std::string(t[1]) + " is not in the table"});
          } else if (it->second != t[2]) {
            problems.push_back({n, std::string(t[1]) + "@" + std::string(t[2]) +
                                       ": the table's API version is " + it->second});
          }
        }
      }
      if (kind == "module" && !files.empty() &&
          std::find(files.begin(), files.end(), std::string(m[3])) == files.end()) {
        problems.push_back({n, "module file '" + std::string(m[3]) + "' is not generated"});
      }
      if (kind != "output") {
        if (declared.count(symbol)) problems.push_back({n, "'" + symbol + "' declared twice"});
      }
      rest = line.substr(static_cast<size_t>(m.position(0) + m.length(0)));
      if (kind == "param" || kind == "output") {  // the type comes next, then `=`
        auto eq = rest.find('=');
        rest = eq == std::string::npos ? "" : rest.substr(eq + 1);
      }
      // A symbol may not be used in its own declaration line before it exists, except
      // resources, which Bicep resolves by symbol; declare it now for the body.
      if (kind != "output") declared.insert(symbol);
    }
    // Identifiers in expression position: outside strings, not property keys, not after '.'.
    std::string expr;
    bool in_str = false;
    int interp = 0;
    for (size_t i = 0; i < rest.size(); ++i) {
      char c = rest[i];
      if (in_str && interp == 0) {
        if (c == '\\') {
          ++i;
        } else if (c == '\'') {
          in_str = false;
          expr += ' ';
        } else if (c == '$' && i + 1 < rest.size() && rest[i + 1] == '{') {
          interp = 1;
          ++i;
          expr += ' ';
        }
        continue;
      }
      if (interp > 0) {
        if (c == '{') ++interp;
        if (c == '}' && --interp == 0) {
          expr += ' ';
          continue;
        }
      }
      if (c == '\'' && interp == 0) {
        in_str = true;
        continue;
      }
      expr += c;
    }
    // Drop a leading property key ("name:").
    static const std::regex kKey(R"(^\s*[A-Za-z_][A-Za-z0-9_]*\s*:)");
    expr = std::regex_replace(expr, kKey, " ");
    for (auto it = std::sregex_iterator(expr.begin(), expr.end(), kIdent);
         it != std::sregex_iterator(); ++it) {
      size_t pos = static_cast<size_t>(it->position(0));
      if (pos > 0 &&
          (expr[pos - 1] == '.' || std::isdigit(static_cast<unsigned char>(expr[pos - 1]))))
        continue;
      std::string id = it->str();
      if (kBuiltins.count(id) || declared.count(id)) continue;
      problems.push_back({n, "'" + id + "' is used before it is declared"});
    }
  }
  return problems;
}

}  // namespace codefleet::iac
