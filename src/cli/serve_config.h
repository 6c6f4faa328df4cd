// `codefleet serve`'s settings: the config file (YAML), then the CODEFLEET_* environment;
// serve_cmd.cpp applies the flags on top. Every mapping in the file is checked key by key:
// an unknown key is an error at file:line naming the closest valid one, because a typo
// such as `tls: {cret: …}` must not serve plain HTTP without a word.
//
//   ServeConfig c;
//   if (auto r = read_config_file("codefleet.yaml", c); !r) print_error(r.error());
//   from_env(c);
#pragma once

#include <optional>
#include <string>

#include "cloud/azure/aks_cloud.h"
#include "core/result.h"
#include "server/api.h"
#include "server/auth.h"

namespace codefleet::cli {

// workers: kubernetes — the cluster and namespace tasks run in.
struct KubernetesSettings {
  std::string kubeconfig;  // a kubeconfig file ("" with in_cluster: the pod's account)
  std::string context;     // "" = its current-context
  bool in_cluster = false;
  std::string namespace_name;  // "" = the kubeconfig context's namespace, else "default"
  std::map<std::string, std::string> namespaces;  // environment → namespace (others: above)
  int64_t image_pull_grace_s = 300;
  int64_t job_ttl_s = 3600;
  int64_t cancel_grace_s = 30;
};

struct ServeConfig {
  std::string spec_file;
  std::string listen = "127.0.0.1:8080";
  std::string store = "sqlite:codefleet.db";
  std::string bootstrap_admin_key;
  std::string strategy = "codefleet";
  std::string workers = "simulated";
  double speed = 1.0;
  std::string start_at;
  std::string tls_cert, tls_key;
  std::string webhook_url;
  int threads = 1024;
  bool log_requests = true;
  size_t max_body_bytes = 1 << 20;
  http::Options front;  // the connection limits and deadlines (http: in the config)
  std::optional<EntraConfig> entra;
  std::string entra_jwks_file;
  std::string entra_jwks_url;  // fetched at start and every hour (Entra rotates its keys)
  // cloud: simulated (default) or azure (node decisions also go to an AKS cluster).
  std::string cloud = "simulated";
  std::string arm_endpoint = "https://management.azure.com";
  std::string login_endpoint;
  AksCloudOptions aks;
  KubernetesSettings kubernetes;
};

// Reads the config file into `c`. Errors carry "FILE:LINE" as their location.
Result<void> read_config_file(const std::string& path, ServeConfig& c);
// CODEFLEET_SPEC, _LISTEN, _STORE, _BOOTSTRAP_ADMIN_KEY and _WEBHOOK_URL, when set.
void from_env(ServeConfig& c);

}  // namespace codefleet::cli
