#include "cli/serve_config.h"

#include <algorithm>
#include <cstdlib>
#include <tuple>
#include <vector>

#include <fmt/format.h>
#include <fmt/ranges.h>
#include <yaml-cpp/yaml.h>

#include "core/text.h"
#include "core/time.h"

namespace codefleet::cli {

namespace {

Error bad_at(const std::string& file, const YAML::Node& n, std::string why) {
  return Error{ErrorCode::kInvalidInput, std::move(why),
               fmt::format("{}:{}", file, n.Mark().line + 1)};
}

// Every key of the mapping `v` must be in `allowed`; `section` names it in the message
// ("" for the top level). The error is at the unknown key's line, with the closest name.
Result<void> only_keys(const YAML::Node& v, const std::string& file, const std::string& section,
                       const std::vector<std::string>& allowed) {
  if (!v.IsMap()) {
    return tl::unexpected(bad_at(
        file, v, fmt::format("{} must be a mapping of {}", section, fmt::join(allowed, ", "))));
  }
  for (const auto& kv : v) {
    std::string key = kv.first.as<std::string>();
    if (std::find(allowed.begin(), allowed.end(), key) != allowed.end()) continue;
    std::string near = closest_match(key, allowed);
    std::string hint = near.empty() ? fmt::format("valid: {}", fmt::join(allowed, ", "))
                                    : fmt::format("did you mean '{}'?", near);
    std::string where = section.empty() ? "" : " in " + section;
    return tl::unexpected(
        bad_at(file, kv.first, fmt::format("unknown setting '{}'{} ({})", key, where, hint)));
  }
  return {};
}

// `http:` connection limits and deadlines: `max_connections`, `max_connections_per_client`
// (integers ≥ 1) and `header_timeout`, `keep_alive_timeout`, `body_timeout`,
// `write_timeout` (durations such as "10s"), each checked; `io_threads` (1-16).
Result<void> read_front_limits(const YAML::Node& v, http::Options& o) {
  auto bad = [](const std::string& field, const std::string& why) {
    return tl::unexpected(Error{ErrorCode::kInvalidInput, why, "http." + field});
  };
  for (auto [name, slot, hi] :
       {std::tuple{"max_connections", &o.max_connections, 1'000'000},
        std::tuple{"max_connections_per_client", &o.max_connections_per_client, 1'000'000},
        std::tuple{"io_threads", &o.io_threads, 16}}) {
    if (!v[name]) continue;
    int64_t n = 0;
    try {
      n = v[name].as<int64_t>();
    } catch (const YAML::Exception&) {
      return bad(name, fmt::format("http.{} must be an integer from 1 to {}", name, hi));
    }
    if (n < 1 || n > hi) {
      return bad(name, fmt::format("http.{} must be an integer from 1 to {}", name, hi));
    }
    *slot = static_cast<int>(n);
  }
  for (auto [name, slot] :
       {std::pair{"header_timeout", &o.header_timeout},
        std::pair{"keep_alive_timeout", &o.keep_alive_timeout},
        std::pair{"body_timeout", &o.body_timeout}, std::pair{"write_timeout", &o.write_timeout}}) {
    if (!v[name]) continue;
    auto d = parse_duration(v[name].as<std::string>());
    if (!d || *d < std::chrono::seconds(1) || *d > std::chrono::hours(1)) {
      return bad(name,
                 fmt::format("http.{} must be a duration from 1s to 1h, such as \"10s\"", name));
    }
    *slot = std::chrono::duration_cast<std::chrono::milliseconds>(*d);
  }
  return {};
}

Result<void> read_http(const YAML::Node& v, const std::string& file, ServeConfig& c) {
  if (auto r = only_keys(v, file, "http",
                         {"threads", "max_body_bytes", "log_requests", "max_connections",
                          "max_connections_per_client", "header_timeout", "keep_alive_timeout",
                          "body_timeout", "write_timeout", "io_threads"});
      !r) {
    return r;
  }
  if (v["threads"]) c.threads = v["threads"].as<int>();
  if (v["max_body_bytes"]) c.max_body_bytes = v["max_body_bytes"].as<size_t>();
  if (v["log_requests"]) c.log_requests = v["log_requests"].as<bool>();
  return read_front_limits(v, c.front);
}

Result<void> read_cloud(const YAML::Node& v, const std::string& file, ServeConfig& c) {
  if (auto r = only_keys(v, file, "cloud",
                         {"kind", "arm_endpoint", "login_endpoint", "cluster_id", "pools"});
      !r) {
    return r;
  }
  if (v["kind"]) c.cloud = v["kind"].as<std::string>();
  if (v["arm_endpoint"]) c.arm_endpoint = v["arm_endpoint"].as<std::string>();
  if (v["login_endpoint"]) c.login_endpoint = v["login_endpoint"].as<std::string>();
  if (v["cluster_id"]) c.aks.cluster_id = v["cluster_id"].as<std::string>();
  if (v["pools"]) {
    // Keys are the spec's pool names: checked against the spec once it is loaded.
    if (!v["pools"].IsMap()) {
      return tl::unexpected(
          bad_at(file, v["pools"], "cloud.pools must map spec pool names to AKS agent pools"));
    }
    for (const auto& p : v["pools"]) {
      c.aks.agent_pools[p.first.as<std::string>()] = p.second.as<std::string>();
    }
  }
  return {};
}

// kubernetes: where the Kubernetes executor (workers: kubernetes) runs tasks.
Result<void> read_kubernetes(const YAML::Node& v, const std::string& file, ServeConfig& c) {
  if (auto r = only_keys(v, file, "kubernetes",
                         {"kubeconfig", "context", "in_cluster", "namespace", "namespaces",
                          "image_pull_grace", "job_ttl", "cancel_grace"});
      !r) {
    return r;
  }
  KubernetesSettings& k = c.kubernetes;
  if (v["kubeconfig"]) k.kubeconfig = v["kubeconfig"].as<std::string>();
  if (v["context"]) k.context = v["context"].as<std::string>();
  if (v["in_cluster"]) k.in_cluster = v["in_cluster"].as<bool>();
  if (v["namespace"]) k.namespace_name = v["namespace"].as<std::string>();
  if (v["namespaces"]) {
    // Keys are the spec's environments: checked against the spec once it is loaded.
    if (!v["namespaces"].IsMap()) {
      return tl::unexpected(bad_at(file, v["namespaces"],
                                   "kubernetes.namespaces must map environments to namespaces"));
    }
    for (const auto& e : v["namespaces"]) {
      k.namespaces[e.first.as<std::string>()] = e.second.as<std::string>();
    }
  }
  for (auto [key, slot] :
       {std::pair{"image_pull_grace", &k.image_pull_grace_s}, std::pair{"job_ttl", &k.job_ttl_s},
        std::pair{"cancel_grace", &k.cancel_grace_s}}) {
    if (!v[key]) continue;
    auto d = parse_duration(v[key].as<std::string>());
    if (!d || d->count() < 0) {
      return tl::unexpected(bad_at(file, v[key],
                                   fmt::format("kubernetes.{} must be a duration such as 30s, "
                                               "5m or 1h",
                                               key)));
    }
    *slot = std::chrono::duration_cast<std::chrono::seconds>(*d).count();
  }
  if (k.in_cluster && !k.kubeconfig.empty()) {
    return tl::unexpected(
        bad_at(file, v, "kubernetes: give either kubeconfig or in_cluster: true, not both"));
  }
  return {};
}

Result<void> read_entra_roles(const YAML::Node& v, const std::string& file, EntraConfig& e) {
  if (!v.IsMap()) {
    return tl::unexpected(bad_at(file, v, "entra.roles must map app-role values to roles"));
  }
  e.role_map.clear();
  for (const auto& r : v) {
    auto role = parse_role(r.second.as<std::string>());
    if (!role) {
      return tl::unexpected(
          bad_at(file, r.second, "entra.roles values are viewer, submitter, operator or admin"));
    }
    e.role_map[r.first.as<std::string>()] = *role;
  }
  return {};
}

Result<void> read_entra(const YAML::Node& v, const std::string& file, ServeConfig& c) {
  if (auto r = only_keys(v, file, "entra",
                         {"issuer", "audience", "jwks_file", "jwks_url", "tenant_claim", "roles"});
      !r) {
    return r;
  }
  if (!v["issuer"] || !v["audience"] || (!v["jwks_file"] == !v["jwks_url"])) {
    return tl::unexpected(
        bad_at(file, v, "entra needs issuer, audience, and jwks_file or jwks_url"));
  }
  EntraConfig e;
  e.policy.issuer = v["issuer"].as<std::string>();
  e.policy.audience = v["audience"].as<std::string>();
  if (v["jwks_file"]) c.entra_jwks_file = v["jwks_file"].as<std::string>();
  if (v["jwks_url"]) c.entra_jwks_url = v["jwks_url"].as<std::string>();
  if (v["tenant_claim"]) {
    e.tenant_claim = v["tenant_claim"].as<std::string>();
    if (e.tenant_claim != "azp" && e.tenant_claim != "oid" && e.tenant_claim != "tid") {
      return tl::unexpected(
          bad_at(file, v["tenant_claim"],
                 "entra.tenant_claim must be azp, oid or tid, not '" + e.tenant_claim + "'"));
    }
  }
  if (v["roles"]) {
    if (auto r = read_entra_roles(v["roles"], file, e); !r) return r;
  }
  c.entra = std::move(e);
  return {};
}

const std::vector<std::string> kTopLevel = {
    "spec",     "listen",    "store",    "bootstrap_admin_key",
    "strategy", "speed",     "start_at", "workers",
    "tls",      "http",      "alerts",   "cloud",
    "entra",    "kubernetes"};

Result<void> read_setting(const std::string& key, const YAML::Node& v, const std::string& file,
                          ServeConfig& c) {
  if (key == "spec") c.spec_file = v.as<std::string>();
  if (key == "listen") c.listen = v.as<std::string>();
  if (key == "store") c.store = v.as<std::string>();
  if (key == "strategy") c.strategy = v.as<std::string>();
  if (key == "speed") c.speed = v.as<double>();
  if (key == "start_at") c.start_at = v.as<std::string>();
  if (key == "workers") c.workers = v.as<std::string>();
  if (key == "bootstrap_admin_key") c.bootstrap_admin_key = v.as<std::string>();
  if (key == "tls") {
    if (auto r = only_keys(v, file, "tls", {"cert", "key"}); !r) return r;
    if (v["cert"]) c.tls_cert = v["cert"].as<std::string>();
    if (v["key"]) c.tls_key = v["key"].as<std::string>();
  }
  if (key == "alerts") {
    if (auto r = only_keys(v, file, "alerts", {"webhook"}); !r) return r;
    if (v["webhook"]) c.webhook_url = v["webhook"].as<std::string>();
  }
  if (key == "http") return read_http(v, file, c);
  if (key == "cloud") return read_cloud(v, file, c);
  if (key == "entra") return read_entra(v, file, c);
  if (key == "kubernetes") return read_kubernetes(v, file, c);
  return {};
}

}  // namespace

// The config file: the same names as the flags, plus `tls:`, `http:`, `alerts:`,
// `cloud:` and `entra:` sections.
Result<void> read_config_file(const std::string& path, ServeConfig& c) {
  YAML::Node root;
  try {
    root = YAML::LoadFile(path);
  } catch (const YAML::BadFile&) {
    return tl::unexpected(Error{ErrorCode::kNotFound, "cannot read the config file", path});
  } catch (const YAML::Exception& e) {
    return tl::unexpected(Error{ErrorCode::kInvalidInput, e.msg,
                                fmt::format("{}:{}:{}", path, e.mark.line + 1, e.mark.column + 1)});
  }
  if (!root.IsMap()) {
    return tl::unexpected(Error{ErrorCode::kInvalidInput, "the config must be a mapping", path});
  }
  try {
    if (auto r = only_keys(root, path, "", kTopLevel); !r) return r;
    for (const auto& kv : root) {
      if (auto r = read_setting(kv.first.as<std::string>(), kv.second, path, c); !r) return r;
    }
  } catch (const YAML::Exception& e) {
    return tl::unexpected(Error{ErrorCode::kInvalidInput, e.msg,
                                fmt::format("{}:{}:{}", path, e.mark.line + 1, e.mark.column + 1)});
  }
  return {};
}

void from_env(ServeConfig& c) {
  auto env = [](const char* name) -> std::optional<std::string> {
    const char* v = std::getenv(name);
    if (!v || !*v) return std::nullopt;
    return std::string(v);
  };
  if (auto v = env("CODEFLEET_SPEC")) c.spec_file = *v;
  if (auto v = env("CODEFLEET_LISTEN")) c.listen = *v;
  if (auto v = env("CODEFLEET_STORE")) c.store = *v;
  if (auto v = env("CODEFLEET_BOOTSTRAP_ADMIN_KEY")) c.bootstrap_admin_key = *v;
  if (auto v = env("CODEFLEET_WEBHOOK_URL")) c.webhook_url = *v;
}

}  // namespace codefleet::cli
