// `codefleet serve`: the control-plane daemon. Loads the spec and catalog, opens the
// store (migrating it), creates the bootstrap admin key on first start, starts the
// reconcile loop against the simulated region and serves the HTTP API until SIGTERM or
// SIGINT, then stops accepting, lets requests in flight finish and flushes the store.
#include <algorithm>
#include <cctype>
#include <condition_variable>
#include <csignal>
#include <cstdlib>
#include <iostream>
#include <mutex>
#include <thread>

#include <pthread.h>
#include <sys/resource.h>
#include <yaml-cpp/yaml.h>

#include <fmt/format.h>

#include "cli/common.h"
#include "cli/serve_config.h"
#include "cloud/azure/aks_cloud.h"
#include "cloud/http.h"
#include "cloud/kubernetes/kube_executor.h"
#include "core/text.h"
#include "server/alerts.h"
#include "server/api.h"
#include "server/auth.h"
#include "server/controller.h"
#include "server/gateway.h"
#include "server/metrics.h"
#include "spec/validate.h"
#include "store/store.h"

namespace codefleet::cli {

namespace {

void log_line(const std::string& level, const std::string& msg, const std::string& extra = "") {
  std::string ts =
      format_rfc3339(std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now()));
  fmt::print(stderr,
             R"({{"ts":"{}","level":"{}","msg":"{}"{}}})"
             "\n",
             ts, level, msg, extra.empty() ? "" : "," + extra);
}

// The Entra signing keys, from the JWKS file or URL.
Result<Jwks> fetch_jwks(const ServeConfig& c) {
  std::string text, source = c.entra_jwks_file;
  if (!c.entra_jwks_url.empty()) {
    source = c.entra_jwks_url;
    HttpClient http;
    auto r = http.send(
        {"GET", c.entra_jwks_url, {{"Accept", "application/json"}}, "", std::chrono::seconds(10)});
    if (!r) return tl::unexpected(r.error().error);
    if (r->status != 200) {
      return tl::unexpected(Error{ErrorCode::kUnavailable,
                                  fmt::format("the JWKS URL answered {}", r->status), source});
    }
    text = r->body;
  } else {
    auto file = read_text_file(c.entra_jwks_file);
    if (!file) return tl::unexpected(file.error());
    text = *file;
  }
  auto keys = Jwks::parse(text);
  if (!keys) {
    return tl::unexpected(
        Error{keys.error().code, keys.error().message, source + ": " + keys.error().location});
  }
  return keys;
}

Result<std::pair<std::string, int>> parse_listen(const std::string& listen) {
  auto colon = listen.rfind(':');
  Error bad{ErrorCode::kInvalidInput, "expected HOST:PORT, e.g. 127.0.0.1:8080", "--listen"};
  if (colon == std::string::npos) return tl::unexpected(bad);
  std::string host = listen.substr(0, colon);
  if (host.size() > 2 && host.front() == '[' && host.back() == ']') {
    host = host.substr(1, host.size() - 2);
  }
  char* end = nullptr;
  long port = std::strtol(listen.c_str() + colon + 1, &end, 10);
  if (host.empty() || *end != '\0' || port < 0 || port > 65535) return tl::unexpected(bad);
  return std::pair{host, static_cast<int>(port)};
}

Result<void> bootstrap_admin(Store& store, const std::string& key, TimePoint now) {
  if (key.size() < 16) {
    return tl::unexpected(Error{ErrorCode::kInvalidInput,
                                "the bootstrap admin key must be at least 16 characters",
                                "--bootstrap-admin-key"});
  }
  std::string hash = sha256_hex(key);
  auto found = store.find_api_key(hash);
  if (!found) return tl::unexpected(found.error());
  if (*found) return {};
  ApiKey k;
  k.id = new_key_id();
  k.name = "bootstrap admin";
  k.hash_hex = hash;
  k.role = Role::kAdmin;
  k.created_ms = unix_ms(now);
  if (auto r = store.put_api_key(k); !r) return r;
  log_line("info", "bootstrap admin key created", fmt::format(R"("key_id":"{}")", k.id));
  return {};
}

// Creates the bootstrap admin key when one is given. Without one, a store with no active
// API key (and no Entra ID sign-in) is refused: the daemon would serve nobody.
Result<void> ensure_a_way_in(Store& store, const ServeConfig& c) {
  auto now = std::chrono::time_point_cast<Duration>(std::chrono::system_clock::now());
  if (!c.bootstrap_admin_key.empty()) return bootstrap_admin(store, c.bootstrap_admin_key, now);
  if (c.entra) return {};
  auto keys = store.list_api_keys();
  if (!keys) return tl::unexpected(keys.error());
  if (std::any_of(keys->begin(), keys->end(), [](const ApiKey& k) { return !k.revoked; })) {
    return {};
  }
  return tl::unexpected(
      Error{ErrorCode::kInvalidInput,
            "the store has no API key, so nobody could sign in: give an admin key of at least 16 "
            "characters with --bootstrap-admin-key KEY or CODEFLEET_BOOTSTRAP_ADMIN_KEY "
            "(or bootstrap_admin_key: in the config), e.g. \"$(openssl rand -hex 24)\"",
            c.store});
}

bool is_loopback(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Plain HTTP beyond loopback sends API keys and tokens across the network in the clear.
void warn_if_plain_http_beyond_loopback(const ServeConfig& c, const std::string& host) {
  if (!c.tls_cert.empty() || is_loopback(host)) return;
  log_line("warning",
           "serving plain HTTP beyond loopback: API keys and tokens cross the network "
           "unencrypted; give tls.cert and tls.key (--tls-cert, --tls-key), listen on "
           "127.0.0.1, or terminate TLS in front of the daemon",
           fmt::format(R"("address":{})", json_quote(c.listen)));
}

std::string join_names(const std::vector<std::string>& names) {
  std::string out;
  for (const auto& n : names) out += (out.empty() ? "" : ", ") + n;
  return out;
}

// workers: kubernetes — the API client and the executor on it.
struct KubernetesWorkers {
  std::unique_ptr<KubeClient> client;
  std::unique_ptr<KubeExecutor> executor;
};

Result<KubernetesWorkers> kubernetes_workers(const ServeConfig& c, const FleetModel& model,
                                             AzureCredentials* azure) {
  const KubernetesSettings& k = c.kubernetes;
  if (k.kubeconfig.empty() && !k.in_cluster) {
    return tl::unexpected(Error{ErrorCode::kInvalidInput,
                                "workers: kubernetes needs a cluster: kubernetes.kubeconfig: FILE "
                                "or kubernetes.in_cluster: true in the config",
                                "kubernetes"});
  }
  auto config = k.in_cluster ? in_cluster_config() : load_kubeconfig(k.kubeconfig, k.context);
  if (!config) return tl::unexpected(config.error());
  if (!k.namespace_name.empty()) config->namespace_name = k.namespace_name;
  KubernetesWorkers w;
  w.client = std::make_unique<KubeClient>(*config, azure);
  KubeExecutorOptions o;
  o.namespace_name = config->namespace_name;
  for (const auto& [env, ns] : k.namespaces) {
    std::vector<std::string> envs;
    for (const auto& e : model.spec->environments) envs.push_back(e.name);
    if (std::find(envs.begin(), envs.end(), env) == envs.end()) {
      std::string near = closest_match(env, envs);
      return tl::unexpected(Error{ErrorCode::kInvalidInput,
                                  fmt::format("'{}' is not an environment of the spec ({})", env,
                                              near.empty() ? "its environments: " + join_names(envs)
                                                           : "did you mean '" + near + "'?"),
                                  "kubernetes.namespaces." + env});
    }
    if (!is_dns_label(ns)) {
      return tl::unexpected(Error{ErrorCode::kInvalidInput,
                                  fmt::format("'{}' is not a namespace name (lower-case letters, "
                                              "digits and '-', at most 63)",
                                              ns),
                                  "kubernetes.namespaces." + env});
    }
  }
  o.image_pull_grace_s = k.image_pull_grace_s;
  o.no_pod_grace_s = k.image_pull_grace_s;
  for (const auto& p : model.pools) {
    JobTarget t;
    t.pool = p.name;
    t.ttl_after_finished_s = k.job_ttl_s;
    t.taints = aks_pool_taints(p.node.gpu_milli > 0, p.spot);
    t.gpu_sharing = p.gpu_sharing;
    t.termination_grace_s = k.cancel_grace_s;
    if (auto ns = k.namespaces.find(p.environment); ns != k.namespaces.end())
      o.namespace_of_pool[p.name] = ns->second;
    o.pools[p.name] = t;
  }
  w.executor = std::make_unique<KubeExecutor>(*w.client, o);
  log_line("info", "running tasks on Kubernetes",
           fmt::format(R"("server":{},"namespace":{})", json_quote(config->server),
                       json_quote(config->namespace_name)));
  return w;
}

}  // namespace

int run_serve(const CommonOptions& common, const ServeOptions& opts) {
  ServeConfig c;
  if (!opts.config_file.empty()) {
    if (auto r = read_config_file(opts.config_file, c); !r) {
      print_error(r.error());
      return kExitUsage;
    }
  }
  from_env(c);
  if (opts.spec_file) c.spec_file = *opts.spec_file;
  if (opts.listen) c.listen = *opts.listen;
  if (opts.store) c.store = *opts.store;
  if (opts.bootstrap_admin_key) c.bootstrap_admin_key = *opts.bootstrap_admin_key;
  if (opts.strategy) c.strategy = *opts.strategy;
  if (opts.speed) c.speed = *opts.speed;
  if (opts.workers) c.workers = *opts.workers;
  if (opts.start_at) c.start_at = *opts.start_at;
  if (opts.tls_cert) c.tls_cert = *opts.tls_cert;
  if (opts.tls_key) c.tls_key = *opts.tls_key;
  if (opts.webhook_url) c.webhook_url = *opts.webhook_url;
  if (opts.threads) c.threads = *opts.threads;
  if (opts.log_requests) c.log_requests = *opts.log_requests;
  if (c.spec_file.empty()) {
    print_error("no spec: pass --spec FILE (or spec: in the config, or CODEFLEET_SPEC)");
    return kExitUsage;
  }
  if (c.speed <= 0 || c.speed > 100'000) {
    print_error(Error{ErrorCode::kInvalidInput, "speed must be in (0, 100000]", "--speed"});
    return kExitUsage;
  }
  if (c.workers != "simulated" && c.workers != "external" && c.workers != "kubernetes") {
    print_error(Error{ErrorCode::kInvalidInput, "workers must be simulated, external or kubernetes",
                      "workers"});
    return kExitUsage;
  }
  if (c.tls_cert.empty() != c.tls_key.empty()) {
    print_error(Error{ErrorCode::kInvalidInput, "TLS needs both a certificate and a key", "tls"});
    return kExitUsage;
  }
  auto listen = parse_listen(c.listen);
  if (!listen) {
    print_error(listen.error());
    return kExitUsage;
  }
  if (c.entra) {
    auto keys = fetch_jwks(c);
    if (!keys) {
      print_error(keys.error());
      return kExitUsage;
    }
    c.entra->keys = *keys;
  }

  auto loaded = load_spec_and_catalog(common, c.spec_file);
  if (!loaded) return kExitUsage;
  // A daemon runs only a valid fleet: the same rules as `codefleet validate`.
  if (!passes_validation(common, *loaded, c.spec_file)) return kExitFindings;
  auto model = load_fleet_model(common, *loaded, c.spec_file);
  if (!model) return kExitUsage;

  // Signals are taken by one thread (sigwait); every thread started from here blocks them.
  sigset_t signals;
  sigemptyset(&signals);
  sigaddset(&signals, SIGTERM);
  sigaddset(&signals, SIGINT);
  pthread_sigmask(SIG_BLOCK, &signals, nullptr);
  std::signal(SIGPIPE, SIG_IGN);
  // Each open connection holds a descriptor, each LLM call one more upstream: the usual
  // soft limit of 1024 would cap --http-threads. Up to the hard limit, as servers do.
  if (rlimit files{}; ::getrlimit(RLIMIT_NOFILE, &files) == 0 && files.rlim_cur < files.rlim_max) {
    files.rlim_cur = files.rlim_max;
    ::setrlimit(RLIMIT_NOFILE, &files);
  }

  auto store = open_store(c.store);
  if (!store) {
    print_error(store.error());
    return kExitUsage;
  }
  ControllerOptions co;
  co.strategy = c.strategy;
  co.speed = c.speed;
  co.simulate_workers = c.workers == "simulated";
  if (!c.start_at.empty()) {
    auto t = parse_rfc3339(c.start_at);
    if (!t) {
      print_error(Error{ErrorCode::kInvalidInput, t.error().message, "--start-at"});
      return kExitUsage;
    }
    co.start_at = *t;
  }
  // cloud: azure — every node decision also becomes an AKS agent pool count.
  SystemClock wall;
  std::unique_ptr<AzureCredentials> azure_credentials;
  std::unique_ptr<ArmClient> arm;
  std::unique_ptr<AksCloud> aks;
  if (c.cloud == "azure") {
    if (auto ok = AksCloud::check(*model, c.aks); !ok) {
      print_error(ok.error());
      return kExitUsage;
    }
    AzureAuthConfig auth = AzureAuthConfig::from_environment();
    if (!c.login_endpoint.empty()) auth.login_endpoint = c.login_endpoint;
    azure_credentials = std::make_unique<AzureCredentials>(auth, wall);
    ArmOptions ao;
    ao.endpoint = c.arm_endpoint;
    ao.log = [](const std::string& line) {
      fmt::print(stderr,
                 R"({{"level":"info","msg":"arm","request":{}}})"
                 "\n",
                 json_quote(line));
    };
    arm = std::make_unique<ArmClient>(ao, *azure_credentials);
    aks = std::make_unique<AksCloud>(*arm, c.aks);
    co.mirror = aks.get();
  } else if (c.cloud != "simulated") {
    print_error(Error{ErrorCode::kInvalidInput, "cloud.kind must be simulated or azure", "cloud"});
    return kExitUsage;
  }
  std::optional<KubernetesWorkers> kube;
  if (c.workers == "kubernetes") {
    if (!azure_credentials) {
      azure_credentials =
          std::make_unique<AzureCredentials>(AzureAuthConfig::from_environment(), wall);
    }
    auto w = kubernetes_workers(c, *model, azure_credentials.get());
    if (!w) {
      print_error(w.error());
      return kExitUsage;
    }
    kube = std::move(*w);
    co.executor = kube->executor.get();
    co.cancel_grace_s = static_cast<int>(c.kubernetes.cancel_grace_s);
  }
  Controller controller(*model, **store, co);
  if (auto r = ensure_a_way_in(**store, c); !r) {
    print_error(r.error());
    return kExitUsage;
  }
  Metrics metrics;
  AlertEngine alerts(loaded->parsed.spec, **store,
                     {c.webhook_url, loaded->parsed.spec.subscription_id});
  controller.add_listener(&metrics);
  controller.add_listener(&alerts);
  Authenticator auth(**store, c.entra);
  // The LLM gateway: Foundry keys from CODEFLEET_FOUNDRY_KEY_<NAME> (auth: api-key), Entra
  // tokens from the Azure credentials (auth: managed-identity or entra).
  GatewayOptions go;
  for (const auto& f : loaded->parsed.spec.foundry) {
    if (f.auth != "api-key") continue;
    std::string var = "CODEFLEET_FOUNDRY_KEY_";
    for (char ch : f.name)
      var +=
          std::isalnum(static_cast<unsigned char>(ch)) ? static_cast<char>(std::toupper(ch)) : '_';
    if (const char* key = std::getenv(var.c_str()); key && *key) go.api_keys[f.name] = key;
  }
  SystemClock llm_clock;
  AzureCredentials llm_credentials(AzureAuthConfig::from_environment(), llm_clock);
  go.credentials = &llm_credentials;
  Gateway gateway(*model, **store, controller, metrics, go);
  // Entra rotates its signing keys: a JWKS URL is read again every hour.
  std::optional<JwksRefresher> refresher;
  if (c.entra && !c.entra_jwks_url.empty()) {
    refresher.emplace([&c] { return fetch_jwks(c); }, auth, std::chrono::hours(1),
                      [](const Error& e) {
                        log_line("error", "JWKS refresh failed; keeping the current keys",
                                 R"("error":)" + json_quote(e.message));
                      });
  }
  ApiOptions ao;
  ao.limits = c.front;
  ao.host = listen->first;
  ao.port = listen->second;
  ao.tls_cert = c.tls_cert;
  ao.tls_key = c.tls_key;
  ao.threads = c.threads;
  ao.max_body_bytes = c.max_body_bytes;
  ao.log_requests = c.log_requests;
  ao.gateway = &gateway;
  ao.executor = co.executor;
  ApiServer api(*model, **store, controller, auth, metrics, ao);
  auto port = api.bind();
  if (!port) {
    print_error(port.error());
    return kExitUsage;
  }
  if (auto r = controller.start(); !r) {
    print_error(r.error());
    return kExitUsage;
  }
  warn_if_plain_http_beyond_loopback(c, listen->first);
  log_line("info", "serving",
           fmt::format(R"("listen":"{}:{}","tls":{},"store":"{}","schema_version":{},)"
                       R"("strategy":"{}","speed":{},"workers":"{}","cloud":"{}","spec":"{}")",
                       listen->first, *port, c.tls_cert.empty() ? "false" : "true",
                       (*store)->kind(), (*store)->schema_version(), c.strategy, c.speed, c.workers,
                       c.cloud, c.spec_file));
  std::thread waiter([&] {
    int sig = 0;
    sigwait(&signals, &sig);
    log_line("info", "shutting down",
             fmt::format(R"("signal":"{}")", sig == SIGTERM ? "SIGTERM" : "SIGINT"));
    api.stop();
  });
  api.run();
  controller.stop();
  if (kube) kube->executor->stop();
  refresher.reset();
  // The waiter may still wait (the server stopped for another reason): wake it.
  pthread_kill(waiter.native_handle(), SIGTERM);
  waiter.join();
  log_line("info", "stopped");
  return kExitOk;
}

}  // namespace codefleet::cli
