// The Kubernetes executor (see kube_executor.h).
#include "cloud/kubernetes/kube_executor.h"

#include <algorithm>
#include <chrono>

#include <fmt/format.h>

#include "core/text.h"
#include "spec/run.h"

namespace codefleet {

namespace {

using json = nlohmann::json;
using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::string jobs_path(const std::string& ns) {
  return fmt::format("/apis/batch/v1/namespaces/{}/jobs", ns);
}

// (task id, attempt) from the annotations CodeFleet puts on its Jobs and pods; false for
// an object without them (not CodeFleet's, or altered by hand).
bool key_of(const json& object, std::string& task, int& attempt) {
  const json& meta = object.value("metadata", json::object());
  const json& ann = meta.value("annotations", json::object());
  if (!ann.is_object() || !ann.contains(kTaskIdAnnotation) || !ann.contains(kAttemptAnnotation))
    return false;
  if (!ann[kTaskIdAnnotation].is_string() || !ann[kAttemptAnnotation].is_string()) return false;
  task = ann[kTaskIdAnnotation].get<std::string>();
  const std::string& a = ann[kAttemptAnnotation].get_ref<const std::string&>();
  if (a.empty() || a.size() > 6 || !std::all_of(a.begin(), a.end(), ::isdigit)) return false;
  attempt = std::stoi(a);
  return !task.empty();
}

bool job_done(const json& job) {
  const json& st = job.value("status", json::object());
  if (st.value("succeeded", 0) > 0 || st.value("failed", 0) > 0) return true;
  for (const auto& c : st.value("conditions", json::array())) {
    std::string type = c.value("type", "");
    if ((type == "Complete" || type == "Failed") && c.value("status", "") == "True") return true;
  }
  return false;
}

bool final_kind(ExecEvent::Kind k) { return k != ExecEvent::Kind::kStarted; }

}  // namespace

KubeExecutor::KubeExecutor(KubeClient& kube, KubeExecutorOptions options)
    : kube_(kube), options_(std::move(options)) {
  if (!options_.now_s) {
    options_.now_s = [] {
      return std::chrono::duration_cast<std::chrono::seconds>(
                 std::chrono::system_clock::now().time_since_epoch())
          .count();
    };
  }
  if (!options_.log) {
    options_.log = [](const std::string& line) { fmt::print(stderr, "{}\n", line); };
  }
  for (int i = 0; i < std::max(1, options_.senders); ++i) {
    senders_.emplace_back([this] { send_loop(); });
  }
}

KubeExecutor::~KubeExecutor() { stop(); }

int64_t KubeExecutor::now_s() const { return options_.now_s(); }

void KubeExecutor::set_wakeup(std::function<void()> wake) {
  std::lock_guard lock(mu_);
  wake_ = std::move(wake);
}

void KubeExecutor::launch(const Launch& l) {
  {
    std::lock_guard lock(mu_);
    // Launched again after an earlier stop (a replica leading again adopts what it once
    // stopped): the launch is what the loop wants now.
    cancelled_.erase({l.task_id, l.attempt});
    Send s;
    s.launch = l;
    sends_.push_back(std::move(s));
  }
  cv_.notify_all();
}

void KubeExecutor::cancel(const std::string& task_id, int attempt, int grace_s) {
  std::lock_guard lock(mu_);
  stop_attempt({task_id, attempt}, grace_s);
}

void KubeExecutor::stop_attempt(const Key& key, int grace_s) {
  cancelled_[key] = steady_clock::now();
  Send s;
  s.create = false;
  s.launch.task_id = key.first;
  s.launch.attempt = key.second;
  s.grace_s = grace_s;
  sends_.push_back(std::move(s));
  cv_.notify_all();
}

std::vector<ExecEvent> KubeExecutor::take_events() {
  std::lock_guard lock(mu_);
  std::vector<ExecEvent> out;
  out.swap(events_);
  return out;
}

std::vector<std::string> KubeExecutor::namespaces() const {
  std::vector<std::string> out{options_.namespace_name};
  for (const auto& [pool, ns] : options_.namespace_of_pool) {
    if (std::find(out.begin(), out.end(), ns) == out.end()) out.push_back(ns);
  }
  return out;
}

Result<std::vector<ExecJob>> KubeExecutor::jobs() {
  std::vector<ExecJob> out;
  for (const auto& ns : namespaces()) {
    auto list = kube_.list(jobs_path(ns), kTaskLabel);
    if (!list) return tl::unexpected(list.error());
    for (const auto& job : list->items) {
      ExecJob j;
      if (!key_of(job, j.task_id, j.attempt)) continue;
      const json& labels = job["metadata"].value("labels", json::object());
      j.pool = labels.value(kPoolLabel, "");
      j.done = job_done(job);
      {
        std::lock_guard lock(mu_);
        namespace_of_[{j.task_id, j.attempt}] = ns;
      }
      out.push_back(std::move(j));
    }
  }
  return out;
}

void KubeExecutor::start() {
  std::lock_guard lock(mu_);
  if (started_ || stopping_) return;
  started_ = true;
  for (const auto& ns : namespaces()) {
    watchers_.emplace_back([this, ns] {
      KubeReflector pods(kube_, fmt::format("/api/v1/namespaces/{}/pods", ns), kTaskLabel,
                         [this](const std::string& type, const json& pod) { on_pod(type, pod); });
      // An image that cannot be pulled becomes a failure once its grace is over, with or
      // without a new event about the pod.
      watch_loop(pods, [this] {
        for (auto& [key, seen] : pods_) {
          if (!seen.any_reported) observe(key, seen, false);
        }
        forget_old_cancels();
        fail_podless_jobs();
      });
    });
  }
  if (options_.watch_nodes) {
    node_watcher_ = std::thread([this] {
      KubeReflector nodes(
          kube_, "/api/v1/nodes", kPoolLabel,
          [this](const std::string& type, const json& node) { on_node(type, node); });
      watch_loop(nodes, [this] { sweep_nodes(); });
    });
  }
}

void KubeExecutor::stop() {
  {
    std::lock_guard lock(mu_);
    if (stopping_) return;
    stopping_ = true;
  }
  cv_.notify_all();
  for (auto& t : senders_) t.join();
  for (auto& t : watchers_) t.join();
  if (node_watcher_.joinable()) node_watcher_.join();
}

// Any replica can answer: the pods are read from the API server, not from the watch.
Result<void> KubeExecutor::logs(const std::string& task_id, int tail_lines, bool follow,
                                const std::function<bool(std::string_view)>& on_chunk) {
  std::string pod, pod_ns;
  int latest = -1;
  for (const auto& ns : namespaces()) {
    auto pods = kube_.list(fmt::format("/api/v1/namespaces/{}/pods", ns),
                           fmt::format("{}={}", kTaskLabel, task_label_value(task_id)));
    if (!pods) return tl::unexpected(pods.error());
    for (const auto& p : pods->items) {
      std::string task;
      int attempt = 0;
      if (!key_of(p, task, attempt) || task != task_id || attempt < latest) continue;
      latest = attempt;
      pod = p["metadata"].value("name", "");
      pod_ns = ns;
    }
  }
  if (pod.empty()) {
    return tl::unexpected(Error{ErrorCode::kNotFound,
                                "task '" + task_id +
                                    "' has no pod (not started yet, or its Job "
                                    "was cleaned up)",
                                "id"});
  }
  return kube_.stream_logs(pod_ns, pod, tail_lines, follow, on_chunk);
}

// ---- Sending: creates and deletes, in order per queue, each retried until it lands.

void KubeExecutor::send_loop() {
  std::unique_lock lock(mu_);
  while (!stopping_) {
    auto now = steady_clock::now();
    auto ready = std::find_if(sends_.begin(), sends_.end(),
                              [&](const Send& s) { return s.not_before <= now; });
    if (ready == sends_.end()) {
      auto next = steady_clock::time_point::max();
      for (const auto& s : sends_) next = std::min(next, s.not_before);
      if (next == steady_clock::time_point::max()) {
        cv_.wait(lock);
      } else {
        cv_.wait_until(lock, next);
      }
      continue;
    }
    Send s = std::move(*ready);
    sends_.erase(ready);
    lock.unlock();
    if (s.create) {
      do_create(s);
    } else {
      do_delete(s);
    }
    lock.lock();
  }
}

void KubeExecutor::do_create(Send& s) {
  const Launch& l = s.launch;
  Key key{l.task_id, l.attempt};
  {
    std::lock_guard lock(mu_);
    if (cancelled_.count(key)) return;  // stopped before it was ever sent
  }
  auto refuse = [&](std::string reason) {
    failures_++;
    emit({ExecEvent::Kind::kFailed, l.task_id, l.attempt, 0, std::move(reason), ""});
  };
  if (!l.run) return refuse("NoRunSpec: the task has no run (image) and its class none either");
  JobTarget target;
  if (auto it = options_.pools.find(l.pool); it != options_.pools.end()) target = it->second;
  target.pool = l.pool;
  target.node = l.node;
  auto ns = options_.namespace_of_pool.find(l.pool);
  target.namespace_name =
      ns == options_.namespace_of_pool.end() ? options_.namespace_name : ns->second;
  {
    std::lock_guard lock(mu_);
    namespace_of_[key] = target.namespace_name;
  }
  auto job = build_job({l.task_id, l.tenant, l.class_name, l.resources, *l.run, l.attempt}, target);
  if (!job) return refuse("Unrunnable: " + job.error().message);
  bool existed = false;
  auto r = kube_.create(jobs_path(target.namespace_name), *job, &existed);
  if (!r) {
    if (r.error().code == ErrorCode::kUnavailable) return retry_later(std::move(s), r.error());
    log("the API server refused the Job", l.task_id, r.error());
    return refuse("JobRejected: " + r.error().message);
  }
  (existed ? adopted_ : created_)++;
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (!pods_.count(key)) awaiting_pod_.emplace(key, now_s());
    if (cancelled_.count(key)) {
      // Stopped while the create was on its way: the delete may have found nothing.
      stop_attempt(key, -1);
    } else if (auto it = pods_.find(key); existed && it != pods_.end()) {
      // Adopted: what its pod did meanwhile is news to the loop that asked again.
      it->second.any_reported = false;
      size_t before = events_.size();
      observe(key, it->second, false);
      wake = events_.size() != before;
    }
  }
  cv_.notify_all();
  if (wake) notify_loop();
}

void KubeExecutor::do_delete(Send& s) {
  // Where its Job is, when known (created or seen here); else every namespace in use.
  std::vector<std::string> where;
  {
    std::lock_guard lock(mu_);
    auto it = namespace_of_.find({s.launch.task_id, s.launch.attempt});
    if (it != namespace_of_.end()) where.push_back(it->second);
  }
  if (where.empty()) where = namespaces();
  for (const auto& ns : where) {
    std::string path = jobs_path(ns) + "/" + job_name(s.launch.task_id, s.launch.attempt);
    auto r = kube_.remove(path, "Background", s.grace_s);
    if (!r && r.error().code == ErrorCode::kUnavailable)
      return retry_later(std::move(s), r.error());
    if (!r) log("the Job could not be deleted", s.launch.task_id, r.error());
  }
}

void KubeExecutor::retry_later(Send s, const Error& e) {
  s.tries++;
  auto wait = std::min<milliseconds>(options_.max_send_backoff,
                                     milliseconds(200) * (int64_t{1} << std::min(s.tries, 10)));
  if ((s.tries & (s.tries - 1)) == 0) {  // 1, 2, 4, 8 …: a line now and then, not a flood
    log(fmt::format("the API server is unavailable; {} again in {} ms (try {})",
                    s.create ? "creating" : "deleting", wait.count(), s.tries),
        s.launch.task_id, e);
  }
  s.not_before = steady_clock::now() + wait;
  {
    std::lock_guard lock(mu_);
    sends_.push_back(std::move(s));
  }
  cv_.notify_all();
}

// ---- Watching: pods into events.

// One reflector's life: step (list, then watch) until stopped; `after_step` runs with mu_
// held after each step (a watch ends at least every watch_timeout_s).
void KubeExecutor::watch_loop(KubeReflector& reflector, const std::function<void()>& after_step) {
  milliseconds backoff{500};
  for (;;) {
    {
      std::lock_guard lock(mu_);
      if (stopping_) return;
    }
    auto r = reflector.step(options_.watch_timeout_s);
    bool wake = false;
    {
      std::unique_lock lock(mu_);
      size_t before = events_.size();
      after_step();
      wake = events_.size() != before;
      if (!r) {
        lock.unlock();
        log("watching failed; watching again", "", r.error());
        lock.lock();
        cv_.wait_for(lock, backoff, [this] { return stopping_; });
        backoff = std::min<milliseconds>(backoff * 2, milliseconds(30'000));
      } else {
        backoff = milliseconds(500);
      }
    }
    if (wake) notify_loop();
  }
}

void KubeExecutor::on_pod(const std::string& type, const json& pod) {
  std::string task;
  int attempt = 0;
  if (!key_of(pod, task, attempt)) return;
  Key key{task, attempt};
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    awaiting_pod_.erase(key);
    Seen& seen = pods_[key];
    seen.pod = pod["metadata"].value("name", "");
    namespace_of_[key] = pod["metadata"].value("namespace", options_.namespace_name);
    seen.object = pod;
    size_t before = events_.size();
    observe(key, seen, type == "DELETED");
    wake = events_.size() != before;
    if (type == "DELETED") {
      pods_.erase(key);
      namespace_of_.erase(key);  // a delete after this looks in every namespace
    }
  }
  if (wake) notify_loop();
}

void KubeExecutor::on_node(const std::string& type, const json& node) {
  std::string name = node.value("metadata", json::object()).value("name", "");
  if (name.empty()) return;
  bool ready = false;
  for (const auto& c : node.value("status", json::object()).value("conditions", json::array())) {
    if (c.value("type", "") == "Ready") ready = c.value("status", "") == "True";
  }
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    size_t before = events_.size();
    if (type == "DELETED") {
      not_ready_since_.erase(name);
      lose_pods_on(name, "NodeDeleted");
      if (lost_reported_.insert(name).second) lost_nodes_.push_back(name);
      wake = true;
    } else if (ready) {
      not_ready_since_.erase(name);
      lost_reported_.erase(name);  // back: it may be lost again later
    } else {
      not_ready_since_.emplace(name, now_s());
      sweep_nodes();
    }
    wake = wake || events_.size() != before;
  }
  if (wake) notify_loop();
}

void KubeExecutor::fail_podless_jobs() {
  for (auto it = awaiting_pod_.begin(); it != awaiting_pod_.end();) {
    const Key key = it->first;
    if (cancelled_.count(key) || pods_.count(key)) {
      it = awaiting_pod_.erase(it);
      continue;
    }
    if (now_s() - it->second < options_.no_pod_grace_s) {
      ++it;
      continue;
    }
    events_.push_back({ExecEvent::Kind::kFailed, key.first, key.second, 0,
                       fmt::format("NoPod: its Job made no pod in {} s (kubectl describe job {})",
                                   options_.no_pod_grace_s, job_name(key.first, key.second)),
                       ""});
    stop_attempt(key, 0);
    it = awaiting_pod_.erase(it);
  }
}

void KubeExecutor::forget_old_cancels() {
  auto old = steady_clock::now() - std::chrono::hours(1);
  for (auto it = cancelled_.begin(); it != cancelled_.end();) {
    bool forget =
        it->second < old && std::none_of(sends_.begin(), sends_.end(), [&](const Send& s) {
          return s.launch.task_id == it->first.first && s.launch.attempt == it->first.second;
        });
    it = forget ? cancelled_.erase(it) : std::next(it);
  }
}

std::vector<std::string> KubeExecutor::take_lost_nodes() {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  out.swap(lost_nodes_);
  return out;
}

// Nodes NotReady past their grace lose their pods (mu_ held).
void KubeExecutor::sweep_nodes() {
  for (const auto& [name, since] : not_ready_since_) {
    if (now_s() - since < options_.node_not_ready_grace_s) continue;
    lose_pods_on(name, "NodeNotReady");
    if (lost_reported_.insert(name).second) lost_nodes_.push_back(name);
  }
}

void KubeExecutor::lose_pods_on(const std::string& node, const std::string& reason) {
  for (auto& [key, seen] : pods_) {
    if (cancelled_.count(key)) continue;
    if (seen.object.value("spec", json::object()).value("nodeName", "") != node) continue;
    if (seen.any_reported && final_kind(seen.reported)) continue;
    seen.any_reported = true;
    seen.reported = ExecEvent::Kind::kLost;
    events_.push_back({ExecEvent::Kind::kLost, key.first, key.second, 0, reason, node});
  }
}

// What the pod's state means, reported once per change (mu_ held). A pod deleted before
// it ended — by a node drain, by hand — is lost, not failed: the task runs again.
void KubeExecutor::observe(const Key& key, Seen& seen, bool deleted) {
  if (cancelled_.count(key)) return;  // the loop stopped it: its end is not news
  PodState ps = pod_state(seen.object, now_s(), options_.image_pull_grace_s);
  ExecEvent e{ExecEvent::Kind::kStarted, key.first, key.second, ps.exit_code, ps.reason, ps.node};
  switch (ps.kind) {
    case PodState::Kind::kPending:
      if (!deleted) return;
      e.kind = ExecEvent::Kind::kLost;
      e.reason = "PodDeleted";
      break;
    case PodState::Kind::kStarted:
      e.kind = deleted ? ExecEvent::Kind::kLost : ExecEvent::Kind::kStarted;
      if (deleted) e.reason = "PodDeleted";
      break;
    case PodState::Kind::kFinished:
      e.kind = ExecEvent::Kind::kFinished;
      break;
    case PodState::Kind::kFailed:
      e.kind = ps.platform ? ExecEvent::Kind::kLost : ExecEvent::Kind::kFailed;
      break;
    case PodState::Kind::kNodeLost:
      e.kind = ExecEvent::Kind::kLost;
      break;
  }
  if (seen.any_reported && (seen.reported == e.kind || final_kind(seen.reported))) return;
  seen.any_reported = true;
  seen.reported = e.kind;
  bool failed = e.kind == ExecEvent::Kind::kFailed;
  events_.push_back(std::move(e));
  // Failed without ending (an image that cannot be pulled, a container that cannot be
  // made): the pod would wait, holding its requests, forever. Its Job goes.
  std::string phase = seen.object.value("status", json::object()).value("phase", "");
  if (failed && phase != "Failed" && phase != "Succeeded") stop_attempt(key, 0);
}

void KubeExecutor::emit(ExecEvent e) {
  {
    std::lock_guard lock(mu_);
    events_.push_back(std::move(e));
  }
  notify_loop();
}

void KubeExecutor::notify_loop() {
  std::function<void()> wake;
  {
    std::lock_guard lock(mu_);
    wake = wake_;
  }
  if (wake) wake();
}

void KubeExecutor::log(const std::string& msg, const std::string& task, const Error& e) {
  options_.log(fmt::format(R"({{"level":"warn","msg":{},"executor":"kubernetes"{},"error":{}}})",
                           json_quote(msg), task.empty() ? "" : ",\"task\":" + json_quote(task),
                           json_quote(e.describe())));
}

}  // namespace codefleet
