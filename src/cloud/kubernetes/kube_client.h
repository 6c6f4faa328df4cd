// A Kubernetes API client on the cloud adapters' libcurl layer (cloud/http.h): where the
// API server is and how to sign in (a kubeconfig — bearer token, token file, client
// certificate, or the `exec` kubelogin entry of an AKS cluster, honoured with an Entra ID
// token from the Azure credential chain — or the pod's in-cluster service account, whose
// token file is read again when the kubelet rotates it), requests with Kubernetes' Status
// errors mapped to CodeFleet's error model, 429 and 5xx retried as `Retry-After` and a
// jittered backoff say (mutations only where they are idempotent), create-or-adopt
// (409 AlreadyExists is the object already there, not an error), List with its
// resourceVersion, and Watch streams read event by event (bookmarks, 410 Gone).
//
//   auto config = load_kubeconfig("~/.kube/config");       // or in_cluster_config()
//   KubeClient kube(*config, &azure_credentials);
//   auto job = kube.create("/apis/batch/v1/namespaces/agents/jobs", job_json);
//   auto pods = kube.list("/api/v1/namespaces/agents/pods", "codefleet.io/task");
//   kube.watch("/api/v1/namespaces/agents/pods", "codefleet.io/task", pods->resource_version,
//              [](const WatchEvent& e) { ... return true; });
#pragma once

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/http.h"
#include "core/result.h"

namespace codefleet {

class AzureCredentials;

struct KubeConfig {
  std::string server;      // "https://host:443" (http:// only for loopback tests)
  std::string ca_pem;      // the cluster's CA; empty: the system's trust store
  std::string token;       // a static bearer token
  std::string token_file;  // read again whenever it changes (in-cluster: rotated)
  std::string client_cert_pem, client_key_pem;
  // An Entra ID token for this scope from the Azure credential chain (AKS with Entra ID:
  // "<server-id>/.default", read from the kubeconfig's kubelogin `exec` entry).
  std::string azure_scope;
  std::string namespace_name = "default";
};

// The kubeconfig at `path` (`context`: "" = its current-context). Errors name the file and
// the field; an `exec` plugin other than kubelogin, or `insecure-skip-tls-verify`, is
// refused rather than silently ignored.
Result<KubeConfig> load_kubeconfig(const std::string& path, const std::string& context = "");
Result<KubeConfig> parse_kubeconfig(const std::string& yaml, const std::string& file,
                                    const std::string& context = "");
// Inside a pod: KUBERNETES_SERVICE_HOST/PORT and the service account's files under `root`.
Result<KubeConfig> in_cluster_config(
    const std::string& root = "/var/run/secrets/kubernetes.io/serviceaccount");

struct KubeOptions {
  int max_attempts = 5;
  std::chrono::milliseconds base_backoff{200};
  std::chrono::milliseconds max_wait{30'000};  // longest single wait (Retry-After is capped)
  std::chrono::milliseconds request_timeout{30'000};
  std::function<void(std::chrono::milliseconds)> sleep;  // default: this_thread::sleep_for
};

// How long one followed log stream lasts at most.
inline constexpr std::chrono::milliseconds kLogFollowWindow{10 * 60 * 1000};

struct KubeList {
  std::vector<nlohmann::json> items;
  std::string resource_version;
};

struct WatchEvent {
  std::string type;  // ADDED, MODIFIED, DELETED, BOOKMARK
  nlohmann::json object;
};

// How a watch ended: its stream closed (watch again from `resource_version`), or the
// version is too old (410 Gone: list again).
struct WatchEnd {
  std::string resource_version;
  bool gone = false;
};

class KubeClient {
 public:
  KubeClient(KubeConfig config, AzureCredentials* azure = nullptr, KubeOptions options = {},
             std::shared_ptr<HttpClient> http = std::make_shared<HttpClient>());
  ~KubeClient();

  const KubeConfig& config() const { return config_; }

  // Creates `object` in the collection at `path`; when it exists already (409
  // AlreadyExists) the existing object is read and returned with `*existed` = true.
  Result<nlohmann::json> create(const std::string& path, const nlohmann::json& object,
                                bool* existed = nullptr);
  Result<nlohmann::json> get(const std::string& path);  // kNotFound for 404
  Result<KubeList> list(const std::string& path, const std::string& label_selector = "");
  // Deletes the object at `path` with `propagation` (Background, Foreground, Orphan) and a
  // grace period (-1: the object's own). False when it was already gone.
  Result<bool> remove(const std::string& path, const std::string& propagation = "Background",
                      int grace_period_s = -1);
  // Streams events after `resource_version` to `on_event` (false from it stops) until the
  // server closes the stream (or `timeout_s` passes). A 410 — as the answer or as an ERROR
  // event — ends it with `gone`.
  Result<WatchEnd> watch(const std::string& path, const std::string& label_selector,
                         const std::string& resource_version,
                         const std::function<bool(const WatchEvent&)>& on_event,
                         int timeout_s = 300);
  Result<std::string> logs(const std::string& ns, const std::string& pod, int tail_lines = -1);
  // The pod's log as it is written (`follow`: until the container ends), piece by piece to
  // `on_chunk` (false from it stops).
  Result<void> stream_logs(const std::string& ns, const std::string& pod, int tail_lines,
                           bool follow, const std::function<bool(std::string_view)>& on_chunk);

 private:
  Result<HttpResponse> send(const std::string& method, const std::string& path,
                            const std::string& body, bool idempotent);
  Result<HttpRequest> request(const std::string& method, const std::string& path,
                              const std::string& body, std::chrono::milliseconds timeout);
  Result<std::string> bearer();

  KubeConfig config_;
  AzureCredentials* azure_;
  KubeOptions options_;
  std::shared_ptr<HttpClient> http_;
  std::unique_ptr<HttpCallPool> pool_;
  std::mutex token_mu_;      // the client is shared by threads: the cache below is guarded
  std::string token_cache_;  // the token file's content, and when it was read
  int64_t token_mtime_ns_ = -1;
};

// List + watch, as client-go's reflector does: `step()` lists when it has no version (the
// first time, and after a 410 Gone), else watches from its version; each change reaches
// `on_change(type, object)` once. A watch that breaks off resumes from the last version
// seen, so no transition is lost; after a relist, what changed meanwhile arrives as
// ADDED/MODIFIED and what vanished as DELETED.
class KubeReflector {
 public:
  using OnChange = std::function<void(const std::string& type, const nlohmann::json& object)>;
  KubeReflector(KubeClient& kube, std::string path, std::string label_selector, OnChange on_change);

  Result<void> step(int watch_timeout_s = 300);
  const std::string& resource_version() const { return resource_version_; }
  int64_t relists() const { return relists_; }

 private:
  Result<void> relist();
  void apply(const std::string& type, const nlohmann::json& object);

  KubeClient& kube_;
  std::string path_, selector_;
  OnChange on_change_;
  std::string resource_version_;
  std::map<std::string, nlohmann::json> known_;  // uid → the object as last seen
  int64_t relists_ = 0;
};

// The error a non-2xx answer carries: Kubernetes' Status `reason` and `message`, mapped
// (404 kNotFound; 400, 403, 409, 422 kInvalidInput or kInfeasible; 401 kInvalidInput;
// 429 and 5xx kUnavailable).
Error kube_error(int status, const std::string& body, const std::string& what);

}  // namespace codefleet
