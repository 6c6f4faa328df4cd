// A unit of auto-coding work: what it needs, how long it runs, how much it matters.
// The same JSON is the daemon's `POST /v1/tasks` body and `codefleet route --task`.
//
//   auto t = parse_task_json(R"({"class": "ci", "resources": {"vcpus": 2, "memory_gib": 4},
//                                "duration_s": 900})", spec, "task.json");
//   // t->resources.vcpus == 2, t->priority == the class's priority
#pragma once

#include <cstddef>
#include <memory>
#include <optional>
#include <string>

#include "core/resources.h"
#include "core/result.h"
#include "core/time.h"

namespace codefleet {

struct Spec;
struct RunSpec;

struct TokenCounts {
  int64_t prompt = 0;
  int64_t completion = 0;
};

struct Task {
  std::string id;
  std::string class_name;
  std::string environment;  // "" = any environment that serves the class
  std::string tenant = "default";
  Resources resources;
  Duration duration{0};  // estimate
  int64_t priority = 0;
  std::optional<TimePoint> deadline;  // must have finished by then
  bool deferrable = false;
  bool preemptible = false;
  std::optional<TokenCounts> tokens;  // LLM calls
  TimePoint submitted_at{};
  // What an executor runs (image, command, env, timeout, retries): the task's own `run`,
  // else its class's; null for neither (the simulated and external workers need none).
  std::shared_ptr<const RunSpec> run;
};

struct WorkloadClass;
// A task with its class's defaults: resources, duration, priority, deferrable, preemptible,
// run.
Task task_from_class(const WorkloadClass& c);

// Length limits on the task JSON's strings, in bytes: names (`id`, `tenant`, `class`,
// `environment`) and times (`deadline`, `submitted_at`, RFC 3339). Longer is an error.
inline constexpr size_t kMaxTaskNameBytes = 128;
inline constexpr size_t kMaxTaskTimeBytes = 64;

// Parses the task JSON. Missing fields take the class's defaults from `spec`
// (resources, duration, priority, deferrable, preemptible). Errors are kInvalidInput with
// location `source` and a message naming the field ("field 'duration_s': …", "unknown
// field 'gpu' (did you mean 'resources.gpus'?)"); `bad_field`, when given, receives the
// field's JSON path ("" when the text is not a JSON object at all).
Result<Task> parse_task_json(const std::string& text, const Spec& spec, const std::string& source,
                             std::string* bad_field = nullptr);
// The JSON form of a task (for logs, the API and tests).
std::string task_to_json(const Task& t);

}  // namespace codefleet
