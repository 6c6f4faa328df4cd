// The Kubernetes API client (see kube_client.h).
#include "cloud/kubernetes/kube_client.h"

#include <sys/stat.h>

#include <algorithm>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <random>
#include <sstream>
#include <thread>

#include <fmt/format.h>
#include <yaml-cpp/yaml.h>

#include "cloud/azure/credentials.h"

namespace codefleet {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;

Error invalid(const std::string& message, const std::string& where) {
  return Error{ErrorCode::kInvalidInput, message, where};
}

// Standard base64 with padding (kubeconfig `*-data` fields).
Result<std::string> base64_decode(const std::string& in, const std::string& where) {
  std::string out;
  uint32_t acc = 0;
  int bits = 0;
  for (char c : in) {
    int v;
    if (c >= 'A' && c <= 'Z')
      v = c - 'A';
    else if (c >= 'a' && c <= 'z')
      v = c - 'a' + 26;
    else if (c >= '0' && c <= '9')
      v = c - '0' + 52;
    else if (c == '+')
      v = 62;
    else if (c == '/')
      v = 63;
    else if (c == '=' || c == '\n' || c == '\r' || c == ' ')
      continue;
    else
      return tl::unexpected(invalid("is not base64", where));
    acc = (acc << 6) | static_cast<uint32_t>(v);
    bits += 6;
    if (bits >= 8) {
      bits -= 8;
      out += static_cast<char>((acc >> bits) & 0xff);
    }
  }
  return out;
}

Result<std::string> read_file(const std::string& path, const std::string& where) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return tl::unexpected(Error{ErrorCode::kNotFound, "cannot read " + path, where});
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A named entry of a kubeconfig list (clusters, users, contexts): its inner map.
std::optional<YAML::Node> named(const YAML::Node& list, const std::string& name,
                                const char* inner) {
  if (!list || !list.IsSequence()) return std::nullopt;
  for (const auto& e : list) {
    if (e["name"] && e["name"].as<std::string>() == name && e[inner]) return e[inner];
  }
  return std::nullopt;
}

// `data` inline (base64) or a file next to the kubeconfig.
Result<std::string> data_or_file(const YAML::Node& n, const std::string& key,
                                 const std::string& where) {
  if (n[key + "-data"])
    return base64_decode(n[key + "-data"].as<std::string>(), where + "." + key + "-data");
  if (n[key]) return read_file(n[key].as<std::string>(), where + "." + key);
  return std::string();
}

// The kubelogin `exec` entry an AKS cluster with Entra ID writes: its --server-id is the
// audience of the token the API server accepts.
Result<std::string> scope_of_exec(const YAML::Node& exec, const std::string& where) {
  std::string command = exec["command"] ? exec["command"].as<std::string>() : "";
  std::string base = command.substr(command.find_last_of('/') + 1);
  std::vector<std::string> args;
  if (exec["args"]) {
    for (const auto& a : exec["args"]) args.push_back(a.as<std::string>());
  }
  auto it = std::find(args.begin(), args.end(), "--server-id");
  if (base != "kubelogin" || it == args.end() || it + 1 == args.end()) {
    return tl::unexpected(invalid(
        fmt::format("the exec credential plugin '{}' is not supported: use a token, a client "
                    "certificate, or the kubelogin entry of an AKS cluster (get-token "
                    "--server-id …), whose token comes from the Azure credentials",
                    command),
        where + ".exec"));
  }
  return *(it + 1) + "/.default";
}

Result<void> read_user(const YAML::Node& user, const std::string& where, KubeConfig& c) {
  if (!user || user.IsNull()) return {};
  if (user["token"]) c.token = user["token"].as<std::string>();
  if (user["tokenFile"]) c.token_file = user["tokenFile"].as<std::string>();
  auto cert = data_or_file(user, "client-certificate", where);
  if (!cert) return tl::unexpected(cert.error());
  auto key = data_or_file(user, "client-key", where);
  if (!key) return tl::unexpected(key.error());
  c.client_cert_pem = *cert;
  c.client_key_pem = *key;
  if (user["exec"]) {
    auto scope = scope_of_exec(user["exec"], where);
    if (!scope) return tl::unexpected(scope.error());
    c.azure_scope = *scope;
  }
  if (user["auth-provider"]) {
    return tl::unexpected(
        invalid("auth-provider entries are not supported (convert the "
                "kubeconfig with `kubelogin convert-kubeconfig`)",
                where + ".auth-provider"));
  }
  return {};
}

// Full jitter: uniform in [0, min(cap, base × 2^attempt)].
milliseconds jitter_backoff(int attempt, milliseconds base, milliseconds cap) {
  thread_local std::mt19937_64 rng{std::random_device{}()};
  int64_t ceiling = std::min<int64_t>(cap.count(), base.count() << std::min(attempt, 16));
  return milliseconds(
      std::uniform_int_distribution<int64_t>(0, std::max<int64_t>(1, ceiling))(rng));
}

}  // namespace

Result<KubeConfig> parse_kubeconfig(const std::string& text, const std::string& file,
                                    const std::string& context) {
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    return tl::unexpected(invalid(e.msg, fmt::format("{}:{}", file, e.mark.line + 1)));
  }
  try {
    std::string ctx = context.empty() && root["current-context"]
                          ? root["current-context"].as<std::string>()
                          : context;
    if (ctx.empty())
      return tl::unexpected(invalid("no context given and no current-context", file));
    auto found = named(root["contexts"], ctx, "context");
    if (!found) return tl::unexpected(invalid("no context '" + ctx + "'", file + ": contexts"));
    const YAML::Node& c = *found;
    std::string cluster_name = c["cluster"] ? c["cluster"].as<std::string>() : "";
    std::string user_name = c["user"] ? c["user"].as<std::string>() : "";
    auto cluster_found = named(root["clusters"], cluster_name, "cluster");
    if (!cluster_found || !(*cluster_found)["server"]) {
      return tl::unexpected(
          invalid("no cluster '" + cluster_name + "' with a server", file + ": clusters"));
    }
    const YAML::Node& cluster = *cluster_found;
    KubeConfig out;
    out.server = cluster["server"].as<std::string>();
    while (!out.server.empty() && out.server.back() == '/') out.server.pop_back();
    std::string where = file + ": clusters[" + cluster_name + "]";
    if (cluster["insecure-skip-tls-verify"] && cluster["insecure-skip-tls-verify"].as<bool>()) {
      return tl::unexpected(
          invalid("insecure-skip-tls-verify is refused: give the cluster's CA "
                  "(certificate-authority-data)",
                  where + ".insecure-skip-tls-verify"));
    }
    auto ca = data_or_file(cluster, "certificate-authority", where);
    if (!ca) return tl::unexpected(ca.error());
    out.ca_pem = *ca;
    if (c["namespace"]) out.namespace_name = c["namespace"].as<std::string>();
    auto user_found = named(root["users"], user_name, "user");
    if (!user_name.empty() && !user_found) {
      return tl::unexpected(invalid("no user '" + user_name + "'", file + ": users"));
    }
    auto user =
        read_user(user_found.value_or(YAML::Node()), file + ": users[" + user_name + "]", out);
    if (!user) return tl::unexpected(user.error());
    return out;
  } catch (const YAML::Exception& e) {
    return tl::unexpected(invalid(e.msg, fmt::format("{}:{}", file, e.mark.line + 1)));
  }
}

Result<KubeConfig> load_kubeconfig(const std::string& path, const std::string& context) {
  auto text = read_file(path, "kubeconfig");
  if (!text) return tl::unexpected(text.error());
  return parse_kubeconfig(*text, path, context);
}

Result<KubeConfig> in_cluster_config(const std::string& root) {
  const char* host = std::getenv("KUBERNETES_SERVICE_HOST");
  const char* port = std::getenv("KUBERNETES_SERVICE_PORT");
  if (!host || !*host || !port || !*port) {
    return tl::unexpected(
        invalid("not inside a pod: KUBERNETES_SERVICE_HOST and "
                "KUBERNETES_SERVICE_PORT are not set",
                "kubernetes.in_cluster"));
  }
  KubeConfig c;
  std::string h = host;
  c.server = "https://" + (h.find(':') != std::string::npos ? "[" + h + "]" : h) + ":" + port;
  c.token_file = root + "/token";
  auto ca = read_file(root + "/ca.crt", "kubernetes.in_cluster");
  if (!ca) return tl::unexpected(ca.error());
  c.ca_pem = *ca;
  if (auto ns = read_file(root + "/namespace", "kubernetes.in_cluster"); ns) {
    c.namespace_name = *ns;
    while (!c.namespace_name.empty() &&
           std::isspace(static_cast<unsigned char>(c.namespace_name.back()))) {
      c.namespace_name.pop_back();
    }
  }
  return c;
}

Error kube_error(int status, const std::string& body, const std::string& what) {
  auto j = json::parse(body, nullptr, false);
  std::string reason = j.is_object() ? j.value("reason", "") : "";
  std::string message = j.is_object() ? j.value("message", "") : "";
  if (message.empty()) message = fmt::format("HTTP {}", status);
  ErrorCode code = status == 404                                     ? ErrorCode::kNotFound
                   : status == 429 || status >= 500                  ? ErrorCode::kUnavailable
                   : status == 409 || status == 422 || status == 403 ? ErrorCode::kInfeasible
                                                                     : ErrorCode::kInvalidInput;
  return Error{code,
               fmt::format("{}: {}{}", what, message, reason.empty() ? "" : " (" + reason + ")"),
               "kubernetes"};
}

KubeClient::KubeClient(KubeConfig config, AzureCredentials* azure, KubeOptions options,
                       std::shared_ptr<HttpClient> http)
    : config_(std::move(config)),
      azure_(azure),
      options_(std::move(options)),
      http_(std::move(http)),
      pool_(std::make_unique<HttpCallPool>(64)) {
  if (!options_.sleep) options_.sleep = [](milliseconds d) { std::this_thread::sleep_for(d); };
}

KubeClient::~KubeClient() = default;

// The bearer token: static, from the (rotating) token file, or from Entra ID. Never logged.
Result<std::string> KubeClient::bearer() {
  if (!config_.azure_scope.empty()) {
    if (!azure_) {
      return tl::unexpected(
          invalid("the kubeconfig asks for an Entra ID token, and no Azure "
                  "credentials are configured",
                  "kubernetes"));
    }
    auto t = azure_->token(config_.azure_scope);
    if (!t) return tl::unexpected(t.error());
    return t->value;
  }
  if (!config_.token_file.empty()) {
    struct stat st {};
    if (::stat(config_.token_file.c_str(), &st) != 0) {
      return tl::unexpected(Error{ErrorCode::kUnavailable,
                                  "cannot read the token file " + config_.token_file,
                                  "kubernetes"});
    }
    int64_t mtime = static_cast<int64_t>(st.st_mtim.tv_sec) * 1'000'000'000 + st.st_mtim.tv_nsec;
    std::lock_guard lock(token_mu_);
    if (mtime != token_mtime_ns_) {  // rotated: read again
      auto t = read_file(config_.token_file, "kubernetes");
      if (!t) return tl::unexpected(t.error());
      token_cache_ = *t;
      while (!token_cache_.empty() && std::isspace(static_cast<unsigned char>(token_cache_.back())))
        token_cache_.pop_back();
      token_mtime_ns_ = mtime;
    }
    return token_cache_;
  }
  return config_.token;
}

Result<HttpRequest> KubeClient::request(const std::string& method, const std::string& path,
                                        const std::string& body, milliseconds timeout) {
  HttpRequest r;
  r.method = method;
  r.url = config_.server + path;
  r.body = body;
  r.timeout = timeout;
  r.ca_pem = config_.ca_pem;
  r.client_cert_pem = config_.client_cert_pem;
  r.client_key_pem = config_.client_key_pem;
  auto token = bearer();
  if (!token) return tl::unexpected(token.error());
  if (!token->empty()) r.headers.emplace_back("Authorization", "Bearer " + *token);
  r.headers.emplace_back("Accept", "application/json");
  if (!body.empty()) r.headers.emplace_back("Content-Type", "application/json");
  r.headers.emplace_back("User-Agent", "codefleet");
  return r;
}

// One request, retried on 429 (as Retry-After says) and, when `idempotent`, on 5xx and
// transport failures, with jittered backoff.
Result<HttpResponse> KubeClient::send(const std::string& method, const std::string& path,
                                      const std::string& body, bool idempotent) {
  HttpResponse last;
  Error last_error{ErrorCode::kUnavailable, method + " " + path + ": no attempt", "kubernetes"};
  for (int attempt = 1; attempt <= std::max(1, options_.max_attempts); ++attempt) {
    auto req = request(method, path, body, options_.request_timeout);
    if (!req) return tl::unexpected(req.error());
    auto r = http_->send(*req);
    milliseconds wait = jitter_backoff(attempt - 1, options_.base_backoff, options_.max_wait);
    if (!r) {
      last_error = r.error().error;
      if (!idempotent) return tl::unexpected(last_error);
    } else if (r->status == 429) {
      last = *r;
      int64_t s = std::atoll(r->header("retry-after").c_str());
      if (s > 0) wait = std::min(options_.max_wait, milliseconds(s * 1000));
      last_error = kube_error(429, r->body, method + " " + path);
    } else if (r->status >= 500 && idempotent) {
      last_error = kube_error(r->status, r->body, method + " " + path);
    } else {
      return *r;
    }
    if (attempt < options_.max_attempts) options_.sleep(wait);
  }
  return tl::unexpected(last_error);
}

Result<json> KubeClient::create(const std::string& path, const json& object, bool* existed) {
  if (existed) *existed = false;
  // A create is sent again after a 429 (it was refused, not done); after a 5xx or a
  // timeout it may have happened, and a second one answers 409, which reads the object.
  auto r = send("POST", path, object.dump(), true);
  if (!r) return tl::unexpected(r.error());
  if (r->status == 409) {
    std::string name = object["metadata"].value("name", "");
    auto got = get(path + "/" + name);
    if (!got) return tl::unexpected(got.error());
    if (existed) *existed = true;
    return got;
  }
  if (r->status != 201 && r->status != 200 && r->status != 202) {
    return tl::unexpected(kube_error(r->status, r->body, "POST " + path));
  }
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object())
    return tl::unexpected(
        Error{ErrorCode::kUnavailable, "POST " + path + ": not JSON", "kubernetes"});
  return j;
}

Result<json> KubeClient::get(const std::string& path) {
  auto r = send("GET", path, "", true);
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) return tl::unexpected(kube_error(r->status, r->body, "GET " + path));
  auto j = json::parse(r->body, nullptr, false);
  if (!j.is_object())
    return tl::unexpected(
        Error{ErrorCode::kUnavailable, "GET " + path + ": not JSON", "kubernetes"});
  return j;
}

Result<KubeList> KubeClient::list(const std::string& path, const std::string& label_selector) {
  std::string q = label_selector.empty() ? "" : "?labelSelector=" + percent_encode(label_selector);
  auto j = get(path + q);
  if (!j) return tl::unexpected(j.error());
  KubeList out;
  if ((*j).contains("metadata") && (*j)["metadata"].is_object()) {
    out.resource_version = (*j)["metadata"].value("resourceVersion", "");
  }
  if ((*j).contains("items") && (*j)["items"].is_array()) {
    for (auto& item : (*j)["items"]) out.items.push_back(std::move(item));
  }
  return out;
}

Result<bool> KubeClient::remove(const std::string& path, const std::string& propagation,
                                int grace_period_s) {
  json opts{{"kind", "DeleteOptions"}, {"apiVersion", "v1"}, {"propagationPolicy", propagation}};
  if (grace_period_s >= 0) opts["gracePeriodSeconds"] = grace_period_s;
  auto r = send("DELETE", path + "?propagationPolicy=" + propagation, opts.dump(), true);
  if (!r) return tl::unexpected(r.error());
  if (r->status == 404) return false;
  if (r->status != 200 && r->status != 202) {
    return tl::unexpected(kube_error(r->status, r->body, "DELETE " + path));
  }
  return true;
}

Result<WatchEnd> KubeClient::watch(const std::string& path, const std::string& label_selector,
                                   const std::string& resource_version,
                                   const std::function<bool(const WatchEvent&)>& on_event,
                                   int timeout_s) {
  std::string url =
      fmt::format("{}?watch=1&allowWatchBookmarks=true&timeoutSeconds={}", path, timeout_s);
  if (!resource_version.empty()) url += "&resourceVersion=" + percent_encode(resource_version);
  if (!label_selector.empty()) url += "&labelSelector=" + percent_encode(label_selector);
  auto req = request("GET", url, "", milliseconds((timeout_s + 30) * 1000));
  if (!req) return tl::unexpected(req.error());
  HttpCall call(*pool_, std::move(*req), options_.request_timeout);
  auto status = call.start();
  // A stream that broke off at once still delivers what came before the break.
  if (!status && call.status() == 0) return tl::unexpected(status.error().error);
  if (!status) status = call.status();
  WatchEnd end{resource_version, false};
  if (*status == 410) return WatchEnd{resource_version, true};
  if (*status != 200) {
    auto body = call.rest(64 << 10, true);
    return tl::unexpected(kube_error(*status, body ? *body : "", "watch " + path));
  }
  std::string buffer;
  for (;;) {
    auto piece = call.next();
    if (!piece) return end;  // the stream broke off: watch again from where it got
    if (!*piece) return end;
    buffer += **piece;
    size_t nl;
    while ((nl = buffer.find('\n')) != std::string::npos) {
      auto line = json::parse(std::string_view(buffer).substr(0, nl), nullptr, false);
      buffer.erase(0, nl + 1);
      if (!line.is_object() || !line.contains("type") || !line.contains("object")) continue;
      WatchEvent e{line["type"].get<std::string>(), std::move(line["object"])};
      if (e.type == "ERROR") {
        if (e.object.value("code", 0) == 410) return WatchEnd{end.resource_version, true};
        return tl::unexpected(
            kube_error(e.object.value("code", 500), e.object.dump(), "watch " + path));
      }
      if (e.object.contains("metadata") && e.object["metadata"].is_object()) {
        std::string rv = e.object["metadata"].value("resourceVersion", "");
        if (!rv.empty()) end.resource_version = rv;
      }
      if (e.type != "BOOKMARK" && !on_event(e)) return end;
    }
  }
}

Result<std::string> KubeClient::logs(const std::string& ns, const std::string& pod,
                                     int tail_lines) {
  std::string path = fmt::format("/api/v1/namespaces/{}/pods/{}/log", ns, pod);
  if (tail_lines >= 0) path += "?tailLines=" + std::to_string(tail_lines);
  auto r = send("GET", path, "", true);
  if (!r) return tl::unexpected(r.error());
  if (r->status != 200) return tl::unexpected(kube_error(r->status, r->body, "GET " + path));
  return r->body;
}

Result<void> KubeClient::stream_logs(const std::string& ns, const std::string& pod, int tail_lines,
                                     bool follow,
                                     const std::function<bool(std::string_view)>& on_chunk) {
  std::string path = fmt::format("/api/v1/namespaces/{}/pods/{}/log?follow={}", ns, pod,
                                 follow ? "true" : "false");
  if (tail_lines >= 0) path += "&tailLines=" + std::to_string(tail_lines);
  // A followed log has no end in sight: it is followed for kLogFollowWindow at most (the
  // caller follows again to go on).
  auto req = request("GET", path, "", follow ? kLogFollowWindow : options_.request_timeout);
  if (!req) return tl::unexpected(req.error());
  HttpCall call(*pool_, std::move(*req), options_.request_timeout);
  auto status = call.start();
  if (!status && call.status() == 0) return tl::unexpected(status.error().error);
  if (!status) status = call.status();
  if (*status != 200) {
    auto body = call.rest(64 << 10, true);
    return tl::unexpected(kube_error(*status, body ? *body : "", "GET " + path));
  }
  for (;;) {
    auto piece = call.next();
    if (!piece) return tl::unexpected(piece.error().error);
    if (!*piece) return {};
    if (!on_chunk(**piece)) return {};
  }
}

KubeReflector::KubeReflector(KubeClient& kube, std::string path, std::string label_selector,
                             OnChange on_change)
    : kube_(kube),
      path_(std::move(path)),
      selector_(std::move(label_selector)),
      on_change_(std::move(on_change)) {}

Result<void> KubeReflector::step(int watch_timeout_s) {
  if (resource_version_.empty()) return relist();
  auto end = kube_.watch(
      path_, selector_, resource_version_,
      [this](const WatchEvent& e) {
        apply(e.type, e.object);
        return true;
      },
      watch_timeout_s);
  if (!end) return tl::unexpected(end.error());
  if (end->gone) {
    resource_version_.clear();  // too old: the next step lists again
    return {};
  }
  resource_version_ = end->resource_version;
  return {};
}

Result<void> KubeReflector::relist() {
  auto l = kube_.list(path_, selector_);
  if (!l) return tl::unexpected(l.error());
  ++relists_;
  std::map<std::string, json> seen;
  for (const auto& item : l->items) {
    std::string uid = item["metadata"].value("uid", "");
    auto it = known_.find(uid);
    if (it == known_.end()) {
      on_change_("ADDED", item);
    } else if (it->second["metadata"].value("resourceVersion", "") !=
               item["metadata"].value("resourceVersion", "")) {
      on_change_("MODIFIED", item);
    }
    seen[uid] = item;
  }
  for (const auto& [uid, obj] : known_) {
    if (!seen.count(uid)) on_change_("DELETED", obj);
  }
  known_ = std::move(seen);
  resource_version_ = l->resource_version;
  return {};
}

void KubeReflector::apply(const std::string& type, const json& object) {
  std::string uid = object["metadata"].value("uid", "");
  if (type == "DELETED") {
    known_.erase(uid);
  } else {
    known_[uid] = object;
  }
  on_change_(type, object);
}

}  // namespace codefleet
