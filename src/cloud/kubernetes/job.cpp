// Tasks as Jobs, pods as task events (see job.h).
#include "cloud/kubernetes/job.h"

#include <fmt/format.h>

#include "core/time.h"

namespace codefleet {

namespace {

using json = nlohmann::json;

// A label value: at most 63 characters of [A-Za-z0-9._-], starting and ending alphanumeric.
std::string label_value(const std::string& s) {
  std::string out;
  for (char c : s) {
    bool ok = std::isalnum(static_cast<unsigned char>(c)) || c == '-' || c == '_' || c == '.';
    out += ok ? c : '_';
    if (out.size() == 63) break;
  }
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.back()))) out.pop_back();
  while (!out.empty() && !std::isalnum(static_cast<unsigned char>(out.front()))) out.erase(0, 1);
  return out;
}

// 32 bits of FNV-1a: two ids that read the same once made DNS-safe still get two names.
std::string hash8(const std::string& s) {
  uint64_t h = 1469598103934665603ull;
  for (unsigned char c : s) h = (h ^ c) * 1099511628211ull;
  return fmt::format("{:08x}", static_cast<uint32_t>(h ^ (h >> 32)));
}

// Requests = limits (a task gets what it was admitted for, no more).
Result<json> resources_of(const Resources& r, const JobTarget& t) {
  json amounts{{"cpu", fmt::format("{}", r.vcpus)}, {"memory", fmt::format("{}Mi", r.memory_mib)}};
  if (r.gpu_milli > 0) {
    if (r.gpu_milli % kMilliPerGpu != 0 && t.gpu_sharing.empty()) {
      return tl::unexpected(Error{
          ErrorCode::kInfeasible,
          fmt::format("{} GPU is a fraction, and pool '{}' declares no GPU sharing mode "
                      "(gpu_sharing: time-slicing, mps or mig): on Kubernetes a container gets "
                      "whole nvidia.com/gpu devices",
                      static_cast<double>(r.gpu_milli) / kMilliPerGpu, t.pool),
          "resources.gpus"});
    }
    // A shared GPU: the device plugin advertises replicas; a fraction asks for one.
    int64_t gpus = (r.gpu_milli + kMilliPerGpu - 1) / kMilliPerGpu;
    amounts["nvidia.com/gpu"] = fmt::format("{}", gpus);
  }
  return json{{"requests", amounts}, {"limits", amounts}};
}

json tolerations_of(const std::vector<std::string>& taints) {
  json out = json::array();
  for (const auto& t : taints) {
    auto eq = t.find('='), colon = t.rfind(':');
    if (colon == std::string::npos) continue;
    json tol{{"key", t.substr(0, std::min(eq, colon))}, {"effect", t.substr(colon + 1)}};
    if (eq != std::string::npos && eq < colon) {
      tol["operator"] = "Equal";
      tol["value"] = t.substr(eq + 1, colon - eq - 1);
    } else {
      tol["operator"] = "Exists";
    }
    out.push_back(tol);
  }
  return out;
}

json env_of(const std::vector<EnvVar>& env) {
  json out = json::array();
  for (const auto& e : env) {
    if (e.from_secret()) {
      out.push_back(
          {{"name", e.name},
           {"valueFrom", {{"secretKeyRef", {{"name", e.secret_name}, {"key", e.secret_key}}}}}});
    } else {
      out.push_back({{"name", e.name}, {"value", e.value}});
    }
  }
  return out;
}

json container_of(const RunSpec& run, json resources) {
  json c{{"name", "task"}, {"image", run.image}, {"resources", std::move(resources)}};
  if (!run.command.empty()) c["command"] = run.command;
  if (!run.args.empty()) c["args"] = run.args;
  if (!run.env.empty()) c["env"] = env_of(run.env);
  if (!run.working_dir.empty()) c["workingDir"] = run.working_dir;
  return c;
}

int64_t unix_seconds_of(const std::string& rfc3339) {
  auto t = parse_rfc3339(rfc3339);
  return t ? unix_ms(*t) / 1000 : 0;
}

}  // namespace

std::string task_label_value(const std::string& task_id) { return label_value(task_id); }

std::vector<std::string> aks_pool_taints(bool gpu, bool spot) {
  std::vector<std::string> out;
  if (gpu) out.push_back("nvidia.com/gpu=present:NoSchedule");
  if (spot) out.push_back("kubernetes.azure.com/scalesetpriority=spot:NoSchedule");
  return out;
}

std::string job_name(const std::string& task_id, int attempt) {
  std::string safe;
  for (char c : task_id) {
    char l = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
    safe += std::isalnum(static_cast<unsigned char>(l)) ? l : '-';
  }
  std::string suffix = "-" + hash8(task_id) + (attempt > 0 ? fmt::format("-r{}", attempt) : "");
  // "cf-" + id + suffix within 63 (a Job's pods add 6 more to its name, within 63 too: the
  // controller cuts the name itself).
  size_t room = 63 - 3 - suffix.size();
  if (safe.size() > room) safe.resize(room);
  while (!safe.empty() && safe.back() == '-') safe.pop_back();
  return "cf-" + safe + suffix;
}

Result<json> build_job(const JobTask& task, const JobTarget& target) {
  auto resources = resources_of(task.resources, target);
  if (!resources) return tl::unexpected(resources.error());
  json labels{{kTaskLabel, label_value(task.task_id)},
              {kTenantLabel, label_value(task.tenant)},
              {kClassLabel, label_value(task.class_name)},
              {kPoolLabel, label_value(target.pool)}};
  json selector{{kPoolLabel, target.pool}};
  if (!target.node.empty()) selector["kubernetes.io/hostname"] = target.node;
  json pod_spec{{"restartPolicy", "Never"},
                {"nodeSelector", selector},
                {"containers", json::array({container_of(task.run, *resources)})}};
  if (task.run.timeout) {
    // On the pod, not the Job: the kubelet then fails the pod itself with reason
    // DeadlineExceeded (a Job-level deadline deletes the pod instead, which reads as lost).
    pod_spec["activeDeadlineSeconds"] =
        std::chrono::duration_cast<std::chrono::seconds>(*task.run.timeout).count();
  }
  if (target.termination_grace_s >= 0)
    pod_spec["terminationGracePeriodSeconds"] = target.termination_grace_s;
  json tolerations = tolerations_of(target.taints);
  if (!tolerations.empty()) pod_spec["tolerations"] = tolerations;
  if (!task.run.service_account.empty()) pod_spec["serviceAccountName"] = task.run.service_account;
  // The whole id (a label value is cut at 63 characters) and the attempt, on the Job and
  // its pod alike: the pod watch maps a pod to its task by them.
  json annotations{{kTaskIdAnnotation, task.task_id},
                   {kAttemptAnnotation, std::to_string(task.attempt)}};
  json spec{
      {"backoffLimit", 0},
      {"ttlSecondsAfterFinished", target.ttl_after_finished_s},
      {"template",
       {{"metadata", {{"labels", labels}, {"annotations", annotations}}}, {"spec", pod_spec}}}};
  return json{{"apiVersion", "batch/v1"},
              {"kind", "Job"},
              {"metadata",
               {{"name", job_name(task.task_id, task.attempt)},
                {"namespace", target.namespace_name},
                {"labels", labels},
                {"annotations", annotations}}},
              {"spec", spec}};
}

PodState pod_state(const json& pod, int64_t now_s, int64_t image_pull_grace_s) {
  PodState s;
  const json& status = pod.value("status", json::object());
  s.node = pod.value("spec", json::object()).value("nodeName", "");
  std::string phase = status.value("phase", "Pending");
  std::string pod_reason = status.value("reason", "");
  const json& containers = status.value("containerStatuses", json::array());
  const json state =
      containers.empty() ? json::object() : containers[0].value("state", json::object());
  if (phase == "Succeeded") {
    s.kind = PodState::Kind::kFinished;
    if (state.contains("terminated")) s.exit_code = state["terminated"].value("exitCode", 0);
    return s;
  }
  if (phase == "Failed") {
    s.kind = PodState::Kind::kFailed;
    if (state.contains("terminated")) {
      s.exit_code = state["terminated"].value("exitCode", 0);
      s.reason = state["terminated"].value("reason", "Error");
    }
    if (!pod_reason.empty()) s.reason = pod_reason;  // DeadlineExceeded, Evicted, NodeLost…
    if (s.reason.empty()) s.reason = "Error";
    // The platform's doing, not the task's: kubelet evictions and shutdowns, and the
    // kubelet refusing the pod at admission (OutOfcpu, OutOfmemory, NodeAffinity, …).
    s.platform = s.reason == "Evicted" || s.reason == "Preempting" || s.reason == "NodeLost" ||
                 s.reason == "Shutdown" || s.reason == "Terminated" ||
                 s.reason == "UnexpectedAdmissionError" || s.reason == "NodeAffinity" ||
                 s.reason.rfind("OutOf", 0) == 0;
    // A pod the API evicted, the scheduler preempted, a taint or a drain removed carries a
    // DisruptionTarget condition (Kubernetes 1.26+); one deleted through the API has a
    // deletionTimestamp. Its container then ends with SIGTERM's 143 or SIGKILL's 137:
    // still not the task's failure.
    for (const auto& c : status.value("conditions", json::array())) {
      if (c.value("type", "") == "DisruptionTarget" && c.value("status", "") == "True") {
        s.platform = true;
        s.reason = c.value("reason", "DisruptionTarget");
      }
    }
    if (pod.value("metadata", json::object()).contains("deletionTimestamp") && !s.platform) {
      s.platform = true;
      s.reason = "PodDeleted";
    }
    if (s.reason == "NodeLost") s.kind = PodState::Kind::kNodeLost;
    return s;
  }
  if (state.contains("waiting")) {
    std::string why = state["waiting"].value("reason", "");
    // What will not go away by waiting: an image that cannot be pulled, a container that
    // cannot be made (a Secret or ConfigMap key missing). Failures after the grace.
    bool pull = why == "ImagePullBackOff" || why == "ErrImagePull" || why == "InvalidImageName" ||
                why == "CreateContainerConfigError" || why == "CreateContainerError";
    int64_t created =
        unix_seconds_of(pod.value("metadata", json::object()).value("creationTimestamp", ""));
    if (pull && (why == "InvalidImageName" || now_s - created >= image_pull_grace_s)) {
      s.kind = PodState::Kind::kFailed;
      s.reason = why;
      return s;
    }
  }
  if (phase == "Running" && state.contains("running")) s.kind = PodState::Kind::kStarted;
  return s;
}

}  // namespace codefleet
