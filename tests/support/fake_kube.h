// A Kubernetes API server on loopback for tests, speaking the real protocol's shapes:
// discovery (`/api`, `/apis`, `/api/v1`, `/apis/batch/v1`, `/version`), namespaced Jobs
// and Pods and cluster Nodes with a resourceVersion each, List objects carrying the
// collection's resourceVersion, `?watch=1` streams of `{"type","object"}` lines (with
// BOOKMARK events when asked, and an ERROR event carrying a 410 `Expired` Status when the
// asked resourceVersion is older than the server's compaction), Status objects for every
// error (404 NotFound, 409 AlreadyExists, 410, 429 TooManyRequests with Retry-After),
// DeleteOptions (`propagationPolicy`), `pods/{name}/log`. Like the job controller, a
// created Job gets one Pod from its template; tests then move the pod through its phases.
//
//   FakeKube kube;                      // listens on 127.0.0.1:<port>
//   kube.set_pod_running("ns", "job-x-abcde");
//   kube.throttle_next(2, 1);           // the next 2 requests get 429, Retry-After: 1
//   kube.compact();                     // watches from older versions get 410
#pragma once

#include <httplib.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <condition_variable>
#include <ctime>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "support/server_thread.h"

namespace codefleet::testing {

class FakeKube {
 public:
  using json = nlohmann::json;

  FakeKube() {
    routes();
    thread_.start();
  }
  ~FakeKube() {
    {
      std::lock_guard lock(mu_);
      closing_ = true;
    }
    cv_.notify_all();
    thread_.stop();
  }
  FakeKube(const FakeKube&) = delete;
  FakeKube& operator=(const FakeKube&) = delete;

  std::string url() const { return thread_.url(); }
  // A kubeconfig for this server (a static bearer token), its context in `namespace_name`
  // ("" = none): for kubectl and for `codefleet serve`.
  std::string kubeconfig(const std::string& namespace_name = "") const {
    return "apiVersion: v1\nkind: Config\nclusters:\n- name: fake\n  cluster:\n    server: " +
           url() + "\nusers:\n- name: u\n  user:\n    token: t\ncontexts:\n- name: c\n  context: " +
           (namespace_name.empty()
                ? "{cluster: fake, user: u}"
                : "{cluster: fake, user: u, namespace: " + namespace_name + "}") +
           "\ncurrent-context: c\n";
  }
  int port() const { return thread_.port(); }

  // ---- What tests do to the cluster ----

  // The next `n` requests are answered 429 with `Retry-After: seconds`.
  // Only requests whose method is `method` count ("" = any).
  void throttle_next(int n, int seconds, const std::string& method = "") {
    std::lock_guard lock(mu_);
    throttle_left_ = n;
    retry_after_s_ = seconds;
    throttle_method_ = method;
  }
  // Requests must carry `Authorization: Bearer <token>` ("" = anything goes).
  void require_token(const std::string& token) {
    std::lock_guard lock(mu_);
    token_ = token;
  }
  // Whether a created Job gets its pod (false: as when the pod is refused at admission).
  void make_pods(bool on) {
    std::lock_guard lock(mu_);
    make_pods_ = on;
  }
  // Open watch streams end after `n` more events each (a dropped connection).
  void cut_watches_after(int n) {
    std::lock_guard lock(mu_);
    cut_after_ = n;
  }
  // Forget the event history, the current version included: open watches end with a 410
  // ERROR event, and a watch from any version seen so far gets 410 Gone.
  void compact() {
    std::lock_guard lock(mu_);
    compacted_at_ = rv_ + 1;
    events_.clear();
    ++compactions_;
    cv_.notify_all();
  }
  // 410s sent so far (as answers or ERROR events).
  int gone_sent() {
    std::lock_guard lock(mu_);
    return gone_sent_;
  }
  void set_pod_phase(const std::string& ns, const std::string& name, const std::string& phase,
                     json container_state = nullptr, const std::string& node = "") {
    std::lock_guard lock(mu_);
    auto it = objects_["pods"].find(ns + "/" + name);
    if (it == objects_["pods"].end()) return;
    json& pod = it->second;
    pod["status"]["phase"] = phase;
    if (!node.empty()) pod["spec"]["nodeName"] = node;
    if (!container_state.is_null()) {
      pod["status"]["containerStatuses"] =
          json::array({{{"name", "task"},
                        {"ready", phase == "Running"},
                        {"restartCount", 0},
                        {"image", pod["spec"]["containers"][0].value("image", "")},
                        {"state", container_state}}});
    }
    modified("pods", pod);
    // The job controller's part: a pod that ended ends its Job (backoffLimit 0).
    if (phase == "Succeeded" || phase == "Failed") {
      std::string job_key = ns + "/" + pod["metadata"]["labels"].value("job-name", "");
      auto job = objects_["jobs"].find(job_key);
      if (job != objects_["jobs"].end()) {
        bool ok = phase == "Succeeded";
        job->second["status"][ok ? "succeeded" : "failed"] = 1;
        job->second["status"]["conditions"] =
            json::array({{{"type", ok ? "Complete" : "Failed"}, {"status", "True"}}});
        modified("jobs", job->second);
      }
    }
  }
  void set_pod_log(const std::string& ns, const std::string& name, std::string text) {
    std::lock_guard lock(mu_);
    logs_[ns + "/" + name] = std::move(text);
  }
  void add_node(const std::string& name, const std::string& pool, bool ready = true) {
    std::lock_guard lock(mu_);
    json node{{"apiVersion", "v1"},
              {"kind", "Node"},
              {"metadata",
               {{"name", name},
                {"labels",
                 {{"agentpool", pool},
                  {"kubernetes.azure.com/agentpool", pool},
                  {"codefleet.io/pool", pool}}}}},
              {"status",
               {{"conditions",
                 json::array({{{"type", "Ready"}, {"status", ready ? "True" : "False"}}})}}}};
    put("nodes", "", std::move(node), "ADDED");
  }
  void set_node_ready(const std::string& name, bool ready) {
    std::lock_guard lock(mu_);
    auto it = objects_["nodes"].find(name);
    if (it == objects_["nodes"].end()) return;
    it->second["status"]["conditions"] =
        json::array({{{"type", "Ready"}, {"status", ready ? "True" : "Unknown"}}});
    modified("nodes", it->second);
  }
  void remove_node(const std::string& name) {
    std::lock_guard lock(mu_);
    removed("nodes", name);
  }
  // Objects as the server holds them.
  std::vector<json> objects(const std::string& resource) {
    std::lock_guard lock(mu_);
    std::vector<json> out;
    for (const auto& [_, o] : objects_[resource]) out.push_back(o);
    return out;
  }
  std::vector<json> pods_of_job(const std::string& ns, const std::string& job) {
    std::vector<json> out;
    for (auto& p : objects("pods")) {
      if (p["metadata"].value("namespace", "") == ns &&
          p["metadata"]["labels"].value("job-name", "") == job) {
        out.push_back(p);
      }
    }
    return out;
  }
  // When each CodeFleet task's first pod was created (by its codefleet.io/task-id
  // annotation), for latency measurements.
  std::map<std::string, std::chrono::steady_clock::time_point> pods_created_at() {
    std::lock_guard lock(mu_);
    return pod_created_at_;
  }
  // Requests seen, as "METHOD path" (for asserting retries and deletes).
  std::vector<std::string> requests() {
    std::lock_guard lock(mu_);
    return requests_;
  }
  int64_t resource_version() {
    std::lock_guard lock(mu_);
    return rv_;
  }

 private:
  struct Event {
    int64_t rv;
    std::string resource, type;
    json object;
  };

  static json status(int code, const std::string& reason, const std::string& message,
                     json details = nullptr) {
    json s{{"kind", "Status"},    {"apiVersion", "v1"}, {"metadata", json::object()},
           {"status", "Failure"}, {"message", message}, {"reason", reason},
           {"code", code}};
    if (!details.is_null()) s["details"] = details;
    return s;
  }
  static void send(httplib::Response& res, int code, const json& body) {
    res.status = code;
    res.set_content(body.dump(), "application/json");
  }

  static std::string now_rfc3339() {
    std::time_t t = std::time(nullptr);
    std::tm tm{};
    gmtime_r(&t, &tm);
    char buf[32];
    std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
    return buf;
  }

  // Stores `o` (new resourceVersion) and records the event. Holds mu_.
  json& put(const std::string& resource, const std::string& ns, json o, const std::string& type) {
    o["metadata"]["resourceVersion"] = std::to_string(++rv_);
    if (!o["metadata"].contains("uid")) o["metadata"]["uid"] = "uid-" + std::to_string(rv_);
    if (!o["metadata"].contains("creationTimestamp")) {
      o["metadata"]["creationTimestamp"] = now_rfc3339();
    }
    std::string key = (ns.empty() ? "" : ns + "/") + o["metadata"].value("name", "");
    json& stored = objects_[resource][key] = std::move(o);
    events_.push_back({rv_, resource, type, stored});
    cv_.notify_all();
    return stored;
  }
  void modified(const std::string& resource, json& o) {
    o["metadata"]["resourceVersion"] = std::to_string(++rv_);
    events_.push_back({rv_, resource, "MODIFIED", o});
    cv_.notify_all();
  }
  void removed(const std::string& resource, const std::string& key) {
    auto it = objects_[resource].find(key);
    if (it == objects_[resource].end()) return;
    json o = it->second;
    objects_[resource].erase(it);
    o["metadata"]["resourceVersion"] = std::to_string(++rv_);
    events_.push_back({rv_, resource, "DELETED", o});
    cv_.notify_all();
  }

  static bool selected(const json& o, const std::string& selector) {
    if (selector.empty()) return true;
    size_t start = 0;
    while (start <= selector.size()) {
      size_t comma = selector.find(',', start);
      std::string term =
          selector.substr(start, comma == std::string::npos ? std::string::npos : comma - start);
      size_t eq = term.find('=');
      const json& labels = o["metadata"].value("labels", json::object());
      if (eq == std::string::npos) {
        if (!labels.contains(term)) return false;
      } else {
        std::string k = term.substr(0, eq), v = term.substr(eq + 1);
        if (!v.empty() && v[0] == '=') v = v.substr(1);
        if (!labels.contains(k) || labels[k] != v) return false;
      }
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
    return true;
  }

  // Answers 401 to a wrong bearer token (when one is required) and 429 while throttling,
  // and records the request. Holds no lock on return.
  bool throttled(const httplib::Request& req, httplib::Response& res) {
    std::lock_guard lock(mu_);
    requests_.push_back(req.method + " " + req.path);
    if (!token_.empty() && req.get_header_value("Authorization") != "Bearer " + token_) {
      send(res, 401, status(401, "Unauthorized", "Unauthorized"));
      return true;
    }
    if (throttle_left_ <= 0) return false;
    if (!throttle_method_.empty() && req.method != throttle_method_) return false;
    --throttle_left_;
    res.set_header("Retry-After", std::to_string(retry_after_s_));
    send(res, 429, status(429, "TooManyRequests", "the server has received too many requests"));
    return true;
  }

  void discovery() {
    server_.Get("/version", [](const httplib::Request&, httplib::Response& res) {
      send(res, 200, {{"major", "1"}, {"minor", "30"}, {"gitVersion", "v1.30.0-fake"}});
    });
    server_.Get("/api", [this](const httplib::Request&, httplib::Response& res) {
      send(res, 200,
           {{"kind", "APIVersions"},
            {"versions", {"v1"}},
            {"serverAddressByClientCIDRs",
             json::array({{{"clientCIDR", "0.0.0.0/0"},
                           {"serverAddress", "127.0.0.1:" + std::to_string(port())}}})}});
    });
    server_.Get("/apis", [](const httplib::Request&, httplib::Response& res) {
      json v1{{"groupVersion", "batch/v1"}, {"version", "v1"}};
      json rbac{{"groupVersion", "rbac.authorization.k8s.io/v1"}, {"version", "v1"}};
      send(res, 200,
           {{"kind", "APIGroupList"},
            {"apiVersion", "v1"},
            {"groups",
             json::array(
                 {{{"name", "batch"}, {"versions", json::array({v1})}, {"preferredVersion", v1}},
                  {{"name", "rbac.authorization.k8s.io"},
                   {"versions", json::array({rbac})},
                   {"preferredVersion", rbac}}})}});
    });
    auto resource = [](const char* name, const char* singular, bool namespaced, const char* kind,
                       json verbs, json short_names = json::array()) {
      json r{{"name", name},
             {"singularName", singular},
             {"namespaced", namespaced},
             {"kind", kind},
             {"verbs", std::move(verbs)}};
      if (!short_names.empty()) r["shortNames"] = std::move(short_names);
      return r;
    };
    json all_verbs = {"create", "delete", "deletecollection", "get",
                      "list",   "patch",  "update",           "watch"};
    json core = json::array(
        {resource("pods", "pod", true, "Pod", all_verbs, {"po"}),
         resource("pods/log", "", true, "Pod", {"get"}),
         resource("nodes", "node", false, "Node", {"get", "list", "watch"}, {"no"}),
         resource("namespaces", "namespace", false, "Namespace", {"get", "list"}, {"ns"}),
         resource("serviceaccounts", "serviceaccount", true, "ServiceAccount", all_verbs, {"sa"})});
    server_.Get("/api/v1", [core](const httplib::Request&, httplib::Response& res) {
      send(res, 200, {{"kind", "APIResourceList"}, {"groupVersion", "v1"}, {"resources", core}});
    });
    json batch =
        json::array({resource("jobs", "job", true, "Job", all_verbs),
                     resource("jobs/status", "", true, "Job", {"get", "patch", "update"})});
    // RBAC's kinds (discovery only: enough for kubectl to map a manifest's objects).
    json rbac =
        json::array({resource("roles", "role", true, "Role", all_verbs),
                     resource("rolebindings", "rolebinding", true, "RoleBinding", all_verbs),
                     resource("clusterroles", "clusterrole", false, "ClusterRole", all_verbs),
                     resource("clusterrolebindings", "clusterrolebinding", false,
                              "ClusterRoleBinding", all_verbs)});
    server_.Get("/apis/rbac.authorization.k8s.io/v1",
                [rbac](const httplib::Request&, httplib::Response& res) {
                  send(res, 200,
                       {{"kind", "APIResourceList"},
                        {"apiVersion", "v1"},
                        {"groupVersion", "rbac.authorization.k8s.io/v1"},
                        {"resources", rbac}});
                });
    server_.Get("/apis/batch/v1", [batch](const httplib::Request&, httplib::Response& res) {
      send(res, 200,
           {{"kind", "APIResourceList"},
            {"apiVersion", "v1"},
            {"groupVersion", "batch/v1"},
            {"resources", batch}});
    });
  }

  void collection(const std::string& prefix, const std::string& resource, const std::string& kind,
                  const std::string& api_version, bool namespaced) {
    std::string ns_part = namespaced ? "/namespaces/([^/]+)" : "";
    auto list_or_watch = [this, resource, kind, api_version, namespaced](
                             const httplib::Request& req, httplib::Response& res) {
      if (throttled(req, res)) return;
      std::string ns = namespaced && req.matches.size() > 1 ? std::string(req.matches[1]) : "";
      std::string selector = req.get_param_value("labelSelector");
      std::string watch = req.get_param_value("watch");
      if (watch == "1" || watch == "true") {
        return stream(req, res, resource, ns, selector);
      }
      std::lock_guard lock(mu_);
      json items = json::array();
      for (const auto& [key, o] : objects_[resource]) {
        if (!ns.empty() && o["metadata"].value("namespace", "") != ns) continue;
        if (selected(o, selector)) items.push_back(o);
      }
      send(res, 200,
           {{"kind", kind + "List"},
            {"apiVersion", api_version},
            {"metadata", {{"resourceVersion", std::to_string(rv_)}}},
            {"items", items}});
    };
    server_.Get(prefix + ns_part + "/" + resource, list_or_watch);
    if (namespaced) server_.Get(prefix + "/" + resource, list_or_watch);  // all namespaces
    server_.Get(prefix + ns_part + "/" + resource + "/([^/]+)",
                [this, resource, namespaced, api_version](const httplib::Request& req,
                                                          httplib::Response& res) {
                  if (throttled(req, res)) return;
                  std::string key =
                      namespaced ? std::string(req.matches[1]) + "/" + std::string(req.matches[2])
                                 : std::string(req.matches[1]);
                  std::lock_guard lock(mu_);
                  auto it = objects_[resource].find(key);
                  if (it == objects_[resource].end()) {
                    std::string name = req.matches[req.matches.size() - 1];
                    return send(res, 404,
                                status(404, "NotFound", resource + " \"" + name + "\" not found",
                                       {{"name", name}, {"kind", resource}}));
                  }
                  send(res, 200, it->second);
                });
  }

  void jobs() {
    server_.Post("/apis/batch/v1/namespaces/([^/]+)/jobs", [this](const httplib::Request& req,
                                                                  httplib::Response& res) {
      if (throttled(req, res)) return;
      std::string ns = req.matches[1];
      auto job = json::parse(req.body, nullptr, false);
      if (!job.is_object() || !job.contains("metadata") ||
          job["metadata"].value("name", "").empty()) {
        return send(res, 422,
                    status(422, "Invalid", "Job.batch is invalid: metadata.name: Required value"));
      }
      std::string name = job["metadata"]["name"];
      std::lock_guard lock(mu_);
      if (objects_["jobs"].count(ns + "/" + name)) {
        return send(res, 409,
                    status(409, "AlreadyExists", "jobs.batch \"" + name + "\" already exists",
                           {{"name", name}, {"group", "batch"}, {"kind", "jobs"}}));
      }
      job["metadata"]["namespace"] = ns;
      job["kind"] = "Job";
      job["apiVersion"] = "batch/v1";
      job["status"] = json::object();
      json& stored = put("jobs", ns, job, "ADDED");
      json created = stored;
      if (make_pods_) make_pod(ns, created);
      send(res, 201, created);
    });
    server_.Delete("/apis/batch/v1/namespaces/([^/]+)/jobs/([^/]+)",
                   [this](const httplib::Request& req, httplib::Response& res) {
                     if (throttled(req, res)) return;
                     std::string ns = req.matches[1], name = req.matches[2];
                     std::string policy = req.get_param_value("propagationPolicy");
                     auto opts = json::parse(req.body.empty() ? "{}" : req.body, nullptr, false);
                     if (policy.empty() && opts.is_object())
                       policy = opts.value("propagationPolicy", "");
                     std::lock_guard lock(mu_);
                     if (!objects_["jobs"].count(ns + "/" + name)) {
                       return send(res, 404,
                                   status(404, "NotFound", "jobs.batch \"" + name + "\" not found",
                                          {{"name", name}, {"group", "batch"}, {"kind", "jobs"}}));
                     }
                     deletes_policy_.push_back(policy);
                     removed("jobs", ns + "/" + name);
                     if (policy == "Background" || policy == "Foreground") {
                       std::vector<std::string> doomed;
                       for (const auto& [key, p] : objects_["pods"]) {
                         if (p["metadata"].value("namespace", "") == ns &&
                             p["metadata"]["labels"].value("job-name", "") == name) {
                           doomed.push_back(key);
                         }
                       }
                       for (const auto& key : doomed) removed("pods", key);
                     }
                     send(res, 200,
                          {{"kind", "Status"},
                           {"apiVersion", "v1"},
                           {"metadata", json::object()},
                           {"status", "Success"},
                           {"details", {{"name", name}, {"group", "batch"}, {"kind", "jobs"}}}});
                   });
  }

  // The job controller's part: one pod from the template, labelled with job-name.
  void make_pod(const std::string& ns, const json& job) {
    std::string job_name = job["metadata"]["name"];
    json tmpl = job["spec"].value("template", json::object());
    json pod{{"apiVersion", "v1"}, {"kind", "Pod"}};
    pod["metadata"] = tmpl.value("metadata", json::object());
    pod["metadata"]["name"] = job_name + "-" + std::to_string(10000 + rv_ % 90000);
    pod["metadata"]["namespace"] = ns;
    pod["metadata"]["labels"]["job-name"] = job_name;
    pod["metadata"]["labels"]["controller-uid"] = job["metadata"]["uid"];
    pod["metadata"]["ownerReferences"] = json::array({{{"apiVersion", "batch/v1"},
                                                       {"kind", "Job"},
                                                       {"name", job_name},
                                                       {"uid", job["metadata"]["uid"]},
                                                       {"controller", true}}});
    pod["spec"] = tmpl.value("spec", json::object());
    pod["status"] = {{"phase", "Pending"}};
    std::string task =
        pod["metadata"].value("annotations", json::object()).value("codefleet.io/task-id", "");
    if (!task.empty()) pod_created_at_.emplace(task, std::chrono::steady_clock::now());
    put("pods", ns, std::move(pod), "ADDED");
  }

  void logs() {
    server_.Get("/api/v1/namespaces/([^/]+)/pods/([^/]+)/log",
                [this](const httplib::Request& req, httplib::Response& res) {
                  if (throttled(req, res)) return;
                  std::lock_guard lock(mu_);
                  std::string key = std::string(req.matches[1]) + "/" + std::string(req.matches[2]);
                  if (!objects_["pods"].count(key)) {
                    return send(res, 404,
                                status(404, "NotFound",
                                       "pods \"" + std::string(req.matches[2]) + "\" not found"));
                  }
                  res.set_content(logs_[key], "text/plain");
                });
  }

  // A watch: events after `resourceVersion` as JSON lines, until the stream is cut, the
  // asked timeout passes, or the server stops.
  void stream(const httplib::Request& req, httplib::Response& res, const std::string& resource,
              const std::string& ns, const std::string& selector) {
    int64_t from = std::atoll(req.get_param_value("resourceVersion").c_str());
    bool bookmarks = req.get_param_value("allowWatchBookmarks") == "true";
    int timeout_s = std::max(1, std::atoi(req.get_param_value("timeoutSeconds").c_str()));
    if (req.get_param_value("timeoutSeconds").empty()) timeout_s = 30;
    res.set_header("Content-Type", "application/json");
    auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(timeout_s);
    res.set_chunked_content_provider(
        "application/json",
        [this, resource, ns, selector, from, bookmarks, deadline, sent = 0, next = from,
         expired_sent = false, epoch = compactions_](size_t, httplib::DataSink& sink) mutable {
          std::unique_lock lock(mu_);
          if (((from > 0 && from < compacted_at_) || epoch != compactions_) && !expired_sent) {
            expired_sent = true;
            ++gone_sent_;
            std::string line =
                json{{"type", "ERROR"},
                     {"object", status(410, "Expired",
                                       "too old resource version: " + std::to_string(from) + " (" +
                                           std::to_string(compacted_at_) + ")")}}
                    .dump() +
                "\n";
            lock.unlock();
            sink.write(line.data(), line.size());
            sink.done();
            return true;
          }
          for (;;) {
            if (closing_ || std::chrono::steady_clock::now() >= deadline) {
              lock.unlock();
              sink.done();
              return true;
            }
            std::string out;
            // Events are in resourceVersion order: start after the last one sent.
            auto first = std::upper_bound(events_.begin(), events_.end(), next,
                                          [](int64_t rv, const Event& e) { return rv < e.rv; });
            for (auto it = first; it != events_.end(); ++it) {
              const Event& e = *it;
              if (e.rv <= next || e.resource != resource) continue;
              next = e.rv;
              if (!ns.empty() && e.object["metadata"].value("namespace", "") != ns) continue;
              if (!selected(e.object, selector)) continue;
              out += json{{"type", e.type}, {"object", e.object}}.dump() + "\n";
              if (cut_after_ >= 0 && ++sent >= cut_after_) {
                cut_after_ = -1;
                lock.unlock();
                sink.write(out.data(), out.size());
                return false;  // the connection drops mid-stream
              }
            }
            if (next < rv_) next = rv_;  // events of other resources: nothing to send
            if (!out.empty()) {
              lock.unlock();
              return sink.write(out.data(), out.size());
            }
            if (bookmarks) {
              std::string mark = json{{"type", "BOOKMARK"},
                                      {"object",
                                       {{"kind", resource == "pods"   ? "Pod"
                                                 : resource == "jobs" ? "Job"
                                                                      : "Node"},
                                        {"apiVersion", resource == "jobs" ? "batch/v1" : "v1"},
                                        {"metadata", {{"resourceVersion", std::to_string(rv_)}}}}}}
                                     .dump() +
                                 "\n";
              if (bookmark_due_ <= std::chrono::steady_clock::now()) {
                bookmark_due_ = std::chrono::steady_clock::now() + std::chrono::milliseconds(500);
                lock.unlock();
                return sink.write(mark.data(), mark.size());
              }
            }
            cv_.wait_for(lock, std::chrono::milliseconds(100));
            if (epoch != compactions_) {  // compacted meanwhile: this stream ends with a 410
              lock.unlock();
              return true;
            }
          }
        });
  }

  void routes() {
    discovery();
    jobs();
    logs();
    collection("/apis/batch/v1", "jobs", "Job", "batch/v1", true);
    collection("/api/v1", "pods", "Pod", "v1", true);
    collection("/api/v1", "nodes", "Node", "v1", false);
  }

 public:
  std::vector<std::string> delete_policies() {
    std::lock_guard lock(mu_);
    return deletes_policy_;
  }

 private:
  httplib::Server server_;
  ServerThread thread_{server_};
  std::mutex mu_;
  std::condition_variable cv_;
  std::map<std::string, std::map<std::string, json>> objects_;  // resource → ns/name → object
  std::map<std::string, std::string> logs_;
  std::vector<Event> events_;
  std::vector<std::string> requests_;
  std::map<std::string, std::chrono::steady_clock::time_point> pod_created_at_;
  std::vector<std::string> deletes_policy_;
  std::string token_;
  int64_t rv_ = 100;
  int64_t compacted_at_ = 0;
  int compactions_ = 0, gone_sent_ = 0;
  std::string throttle_method_;
  bool make_pods_ = true;
  int throttle_left_ = 0, retry_after_s_ = 1;
  int cut_after_ = -1;
  bool closing_ = false;
  std::chrono::steady_clock::time_point bookmark_due_{};
};

}  // namespace codefleet::testing
