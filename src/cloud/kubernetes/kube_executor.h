// The Kubernetes executor: the executor port (scheduling/executor.h) on a cluster's API.
// Each attempt of an admitted task is one batch/v1 Job (cloud/kubernetes/job.h: pinned to
// its pool, labelled, backoffLimit 0), created by a few sender threads so that the loop
// never waits on the API server; a create answered 409 AlreadyExists is the Job already
// there (adopted, never a second pod). One watcher thread lists and watches the pods
// CodeFleet labelled (resourceVersion, bookmarks, a relist after 410 Gone) and turns their
// phases into events: started, finished with the exit code, failed with Kubernetes'
// reason (OOMKilled, DeadlineExceeded, an image that cannot be pulled after a grace, Error
// with the exit code), lost (evicted, node lost, the pod deleted under it).
//
//   KubeClient kube(*load_kubeconfig(path));
//   KubeExecutor ex(kube, {.namespace_name = "agents", .pools = targets});
//   controller_options.executor = &ex;
//
// Sends that fail with 429 or 5xx (after the client's own retries) are tried again with a
// doubling backoff up to `max_send_backoff`; nothing the loop asked for is dropped. A
// create the API server refuses for good (422: the object is invalid) becomes a failed
// event naming the reason.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include "cloud/kubernetes/job.h"
#include "cloud/kubernetes/kube_client.h"
#include "scheduling/executor.h"

namespace codefleet {

struct KubeExecutorOptions {
  std::string namespace_name = "default";
  // A pool's tasks in another namespace than the default (the serve config's
  // kubernetes.namespaces maps environments to namespaces; serve turns that into pools).
  std::map<std::string, std::string> namespace_of_pool;
  std::map<std::string, JobTarget> pools;  // by pool name; a pool missing: default target
  int64_t image_pull_grace_s = 300;        // ImagePullBackOff counts as a failure after this
  // A Job that has made no pod this long after its create (a service account that does not
  // exist, a ResourceQuota or admission policy refusing the pod) fails its attempt.
  int64_t no_pod_grace_s = 300;
  int senders = 4;           // threads creating and deleting Jobs
  int watch_timeout_s = 10;  // one watch request's length (stop waits this long)
  // Nodes of the pools (label codefleet.io/pool) are watched too: the pods on a node that
  // is deleted, or NotReady for longer than the grace, are lost (their Jobs deleted and the
  // tasks requeued) rather than waited for.
  bool watch_nodes = true;
  int64_t node_not_ready_grace_s = 60;
  std::chrono::milliseconds max_send_backoff{30'000};
  std::function<int64_t()> now_s;               // wall clock, Unix seconds (default: the system's)
  std::function<void(const std::string&)> log;  // one JSON line per problem (default: stderr)
};

class KubeExecutor final : public Executor {
 public:
  KubeExecutor(KubeClient& kube, KubeExecutorOptions options);
  ~KubeExecutor() override;

  std::string kind() const override { return "kubernetes"; }
  void set_wakeup(std::function<void()> wake) override;
  void launch(const Launch& l) override;
  void cancel(const std::string& task_id, int attempt, int grace_s) override;
  std::vector<ExecEvent> take_events() override;
  Result<std::vector<ExecJob>> jobs() override;
  void start() override;
  void stop() override;
  int64_t failures() const override { return failures_.load(); }
  std::vector<std::string> take_lost_nodes() override;
  Result<void> logs(const std::string& task_id, int tail_lines, bool follow,
                    const std::function<bool(std::string_view)>& on_chunk) override;

  const std::string& namespace_name() const { return options_.namespace_name; }
  // Every namespace it runs tasks in: the default one first.
  std::vector<std::string> namespaces() const;
  // Jobs created (201) and adopted (409) so far.
  int64_t created() const { return created_.load(); }
  int64_t adopted() const { return adopted_.load(); }

 private:
  struct Send {
    bool create = true;
    Launch launch;  // create: the whole launch; delete: task id and attempt
    int grace_s = -1;
    int tries = 0;
    std::chrono::steady_clock::time_point not_before{};
  };
  struct Seen {  // one attempt's pod, as last observed
    std::string pod;
    ExecEvent::Kind reported{};
    bool any_reported = false;
    bool cancelled = false;
    nlohmann::json object;
  };
  using Key = std::pair<std::string, int>;  // (task id, attempt)

  void send_loop();
  void do_create(Send& s);
  void do_delete(Send& s);
  void retry_later(Send s, const Error& e);
  // Marks the attempt stopped and queues its Job's delete (mu_ held).
  void stop_attempt(const Key& key, int grace_s);
  void watch_loop(KubeReflector& reflector, const std::function<void()>& after_step);
  void on_pod(const std::string& type, const nlohmann::json& pod);
  void on_node(const std::string& type, const nlohmann::json& node);
  void sweep_nodes();
  void lose_pods_on(const std::string& node, const std::string& reason);  // mu_ held
  void observe(const Key& key, Seen& seen, bool deleted);
  void emit(ExecEvent e);
  void notify_loop();  // the loop's wake-up, called without mu_ held
  void log(const std::string& msg, const std::string& task, const Error& e);
  int64_t now_s() const;

  KubeClient& kube_;
  KubeExecutorOptions options_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Send> sends_;
  std::vector<ExecEvent> events_;
  std::map<Key, Seen> pods_;
  // Attempts the loop stopped, and when: their end is not news, and a create still on its
  // way for one is deleted when it lands. Kept an hour (and while a send for it waits).
  std::map<Key, std::chrono::steady_clock::time_point> cancelled_;
  void forget_old_cancels();  // mu_ held
  std::function<void()> wake_;
  bool stopping_ = false;
  std::vector<std::thread> senders_;
  std::vector<std::thread> watchers_;  // one per namespace
  std::thread node_watcher_;
  std::map<Key, std::string> namespace_of_;         // where each attempt's Job is (for deletes)
  std::map<Key, int64_t> awaiting_pod_;             // created, no pod seen yet: since when
  void fail_podless_jobs();                         // mu_ held
  std::map<std::string, int64_t> not_ready_since_;  // node → when first seen NotReady
  std::set<std::string> lost_reported_;             // nodes reported lost (once each)
  std::vector<std::string> lost_nodes_;             // not yet taken by the loop
  bool started_ = false;
  std::atomic<int64_t> failures_{0}, created_{0}, adopted_{0};
};

}  // namespace codefleet
