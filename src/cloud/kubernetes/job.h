// A task as a Kubernetes Job, and a pod's state as a task event: the two translations the
// Kubernetes executor makes, kept free of I/O so that they are tested on their own.
//
// The Job: named from the task id (so a create sent twice is one Job: 409 AlreadyExists),
// backoffLimit 0 (CodeFleet owns retries), its pod pinned to the pool CodeFleet chose
// (`nodeSelector` on the `codefleet.io/pool` label the generated AKS pools carry, their
// taints tolerated), labelled with task id, tenant, class and pool, requests = limits from
// the task's resources (GPUs as `nvidia.com/gpu`; a fraction only on a pool that declares
// a sharing mode), `activeDeadlineSeconds` from the timeout, env from values and Secret
// references.
//
//   auto job = build_job({.task_id = "t-1", .tenant = "acme", .class_name = "ci",
//                         .resources = r, .run = run}, {.namespace_name = "agents", .pool =
//                         "cpu"});
//   PodState s = pod_state(pod_json, now_s, /*image_pull_grace_s=*/300);
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "core/resources.h"
#include "core/result.h"
#include "spec/run.h"

namespace codefleet {

// Labels CodeFleet puts on its Jobs and pods (and selects them by).
inline constexpr const char* kTaskLabel = "codefleet.io/task";
inline constexpr const char* kTenantLabel = "codefleet.io/tenant";
inline constexpr const char* kClassLabel = "codefleet.io/class";
inline constexpr const char* kPoolLabel = "codefleet.io/pool";
inline constexpr const char* kTaskIdAnnotation = "codefleet.io/task-id";
inline constexpr const char* kAttemptAnnotation = "codefleet.io/attempt";

struct JobTask {
  std::string task_id, tenant, class_name;
  Resources resources;
  RunSpec run;
  int attempt = 0;  // 0 for the first run; each retry is a new Job (name suffix)
};

struct JobTarget {
  std::string namespace_name = "default";
  std::string pool;                     // the spec's pool name (the node label's value)
  std::vector<std::string> taints;      // "key=value:Effect", tolerated
  std::string gpu_sharing;              // "" (whole GPUs only), "time-slicing", "mps", "mig"
  int64_t ttl_after_finished_s = 3600;  // a finished Job (and its pod's log) is kept this long
  // What a cancelled or preempted pod gets to exit (its terminationGracePeriodSeconds);
  // -1: Kubernetes' default (30 s).
  int64_t termination_grace_s = -1;
  std::string node;  // a machine of the pool to run on ("" = any of them)
};

// The taints a generated AKS pool carries (iac/deployment.cpp puts them there): GPU pools
// "nvidia.com/gpu=present:NoSchedule", spot pools Azure's own spot taint.
std::vector<std::string> aks_pool_taints(bool gpu, bool spot);

// The value of the task label for `task_id` (label values are cut to 63 characters of
// [A-Za-z0-9._-]; the whole id is in the codefleet.io/task-id annotation).
std::string task_label_value(const std::string& task_id);

// "cf-<task id, DNS-safe, cut>-<8 hex of its hash>[-r<attempt>]": at most 63 characters,
// the same for the same task and attempt.
std::string job_name(const std::string& task_id, int attempt = 0);
// kInfeasible with the field named for what cannot run on Kubernetes (a fractional GPU on
// a pool without a sharing mode).
Result<nlohmann::json> build_job(const JobTask& task, const JobTarget& target);

// What a pod's status means for its task.
struct PodState {
  enum class Kind { kPending, kStarted, kFinished, kFailed, kNodeLost };
  Kind kind = Kind::kPending;
  int exit_code = 0;
  std::string reason;  // OOMKilled, DeadlineExceeded, ImagePullBackOff, Error, Evicted, …
  std::string node;
  // Whether the failure is the platform's, not the task's (eviction, preemption, node
  // loss): requeued without spending a retry.
  bool platform = false;
};
// `now_s` and the pod's creation time decide when an image that cannot be pulled counts as
// a failure (after `image_pull_grace_s`).
PodState pod_state(const nlohmann::json& pod, int64_t now_s, int64_t image_pull_grace_s);

}  // namespace codefleet
