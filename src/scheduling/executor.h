// The executor port: where an admitted task really runs. The reconcile loop decides (pool,
// node, when); an executor carries the decision out on a real engine and reports back
// what happened to it. Adapters: the Kubernetes executor (cloud/kubernetes/
// kube_executor.h: one batch/v1 Job per attempt) and, in tests, an in-memory fake; one
// typed test suite runs both (tests/integration/executor_suite_test.cpp).
//
//   executor.launch({.task_id = "t-1", .attempt = 0, .pool = "cpu", ...});   // never blocks
//   for (const ExecEvent& e : executor.take_events()) ...   // started, finished, failed, lost
//   executor.cancel("t-1", 0, /*grace_s=*/30);                               // never blocks
//
// Attempts: every admission of a task is a new attempt (0, 1, 2, …), so a retry or a
// requeue after preemption never collides with what the previous attempt left behind,
// and an event from an attempt that is no longer current is recognisably stale.
//
// Threading: launch, cancel and take_events are called on the loop thread and return at
// once; the adapter does its I/O on its own threads and calls the wake-up it was given
// when events are ready. `jobs()` blocks (it is called when a replica becomes the leader,
// before the loop runs).
#pragma once

#include <functional>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "core/resources.h"
#include "core/result.h"

namespace codefleet {

struct RunSpec;

struct Launch {
  std::string task_id, tenant, class_name;
  int attempt = 0;
  std::string pool;  // the spec's pool name
  // The machine to run on, when the loop knows which real node its choice is ("" = any
  // node of the pool): the packing the scheduler decided is then the one that happens.
  std::string node;
  Resources resources;
  std::shared_ptr<const RunSpec> run;
};

struct ExecEvent {
  enum class Kind {
    kStarted,   // a container runs
    kFinished,  // exited 0
    kFailed,    // the task's own failure: exit code, OOMKilled, DeadlineExceeded, image pull
    kLost,      // the platform's: node lost, evicted, drained, preempted — requeued, not retried
  };
  Kind kind = Kind::kStarted;
  std::string task_id;
  int attempt = 0;
  int exit_code = 0;
  std::string reason;
  std::string node;  // the machine it runs on (Kubernetes: the node's name)
};
inline const char* exec_event_name(ExecEvent::Kind k) {
  switch (k) {
    case ExecEvent::Kind::kStarted:
      return "started";
    case ExecEvent::Kind::kFinished:
      return "finished";
    case ExecEvent::Kind::kFailed:
      return "failed";
    case ExecEvent::Kind::kLost:
      return "lost";
  }
  return "?";
}

// What the engine holds for CodeFleet: one entry per attempt it still has.
struct ExecJob {
  std::string task_id;
  int attempt = 0;
  std::string pool;
  bool done = false;  // finished or failed: nothing runs any more
};

class Executor {
 public:
  virtual ~Executor() = default;
  virtual std::string kind() const = 0;
  // The loop's wake-up, called (from any thread) when events are ready.
  virtual void set_wakeup(std::function<void()> wake) = 0;
  // Runs the attempt. A launch that the engine refuses for good (the pod cannot be built)
  // comes back as a kFailed event; one that cannot be sent yet is retried with backoff.
  virtual void launch(const Launch& l) = 0;
  // Stops the attempt (and forgets it): `grace_s` for the containers to exit.
  virtual void cancel(const std::string& task_id, int attempt, int grace_s) = 0;
  virtual std::vector<ExecEvent> take_events() = 0;
  // Everything the engine holds for CodeFleet (recovery). Blocking; kUnavailable when the
  // engine cannot be read (the caller tries again later).
  virtual Result<std::vector<ExecJob>> jobs() = 0;
  // Starts watching (after recovery decided what to keep): events for every attempt the
  // engine holds follow, current or not.
  virtual void start() = 0;
  virtual void stop() = 0;
  // Machines the engine lost since the last call (deleted, or not ready past a grace), by
  // name: the loop drops them from its fleet, so quota and cost follow what really runs.
  virtual std::vector<std::string> take_lost_nodes() { return {}; }
  // Calls to the engine that failed for good (for the snapshot and metrics).
  virtual int64_t failures() const = 0;
  // The output of the task's latest attempt, piece by piece to `on_chunk` (false from it
  // stops); with `follow`, until the container ends. `tail_lines` < 0: all of it.
  // kNotFound when no attempt has a pod (yet). Blocking: call it off the loop thread.
  virtual Result<void> logs(const std::string& task_id, int tail_lines, bool follow,
                            const std::function<bool(std::string_view)>& on_chunk) = 0;
};

}  // namespace codefleet
