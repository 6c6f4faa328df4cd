// Workload inputs for the simulator: real traces and a synthetic generator, all turned
// into time-ordered task arrivals.
//
//   Azure LLM inference CSV (`TIMESTAMP,ContextTokens,GeneratedTokens`): each request
//     becomes a task of the LLM class on the self-hosted pool, through a throughput model:
//     duration = context / prefill_tps + generated / (decode_tps / concurrency), and a
//     1/concurrency share of one GPU (and of its memory).
//   Alibaba GPU pods CSV (`name,cpu_milli,memory_mib,num_gpu,gpu_milli,...,qos,...,
//     creation_time,deletion_time,scheduled_time`): each pod becomes a task with its CPU,
//     memory and GPU request; duration = deletion - scheduled (or creation) time; `BE` pods
//     are preemptible.
//   JSONL: one task JSON per line, with `submitted_at` (RFC 3339); a `deadline` is kept
//     as the time from the task's arrival to it.
//   Synthetic: office-hours diurnal load in the spec's time zone, quieter weekends,
//     random bursts; task durations scaled so the busiest hour uses ~70% of each class's
//     pools.
//
// Every CSV is RFC 4180 (quoted fields, a leading byte order mark), read by
// `catalog/csv.h`. Arrivals are sorted by time: an Azure or JSONL trace out of time order
// gets a warning naming the file and how many rows came early; Alibaba pod lists are
// tables in no time order and are sorted silently. Bounds keep a typo from hanging the
// simulator or wrapping an integer: see `kMaxTraceSpanDays` and `kMaxTokensPerRequest`.
//
//   auto w = load_trace(text, "trace.csv", TraceFormat::kAzureLlm, spec, opts);
//   for (const auto& warning : w->warnings) print(warning);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "workload/task.h"

namespace codefleet {

struct Spec;
struct FleetModel;

// The latest arrival of a trace is at most this long after the earliest, and no task runs
// longer: 400 days holds a year of production with room for time zones and leap days.
inline constexpr int64_t kMaxTraceSpanDays = 400;
// The most tokens one LLM request may carry each way (prompt, completion): ten times the
// longest context window on offer; the task JSON's bound too.
inline constexpr int64_t kMaxTokensPerRequest = 100'000'000;

enum class TraceFormat { kAzureLlm, kAlibabaPods, kJsonl };
Result<TraceFormat> parse_trace_format(const std::string& name);

// Throughput of self-hosted inference on one H100, for the Azure LLM trace. Planning
// assumptions, not measurements: set them from your own serving benchmark.
struct LlmThroughputModel {
  int64_t prefill_tokens_per_s_per_gpu = 8000;
  int64_t decode_tokens_per_s_per_gpu = 1600;
  int64_t concurrency_per_gpu = 32;  // sequences batched on one GPU
};

struct TraceOptions {
  bool skip_bad_rows = false;
  std::string llm_class = "online-inference";  // class for Azure LLM requests
  std::string gpu_class = "batch-inference";   // class for Alibaba pods with GPUs
  std::string cpu_class = "background";        // class for Alibaba pods without GPUs
  LlmThroughputModel llm;
};

struct Arrival {
  Duration at{0};  // since the start of the workload
  Task task;       // `task.deadline` unset: a trace's deadlines are relative, below
  // The task must have finished this long after it arrives (a trace's absolute deadline,
  // moved with the arrival to wherever the workload is replayed).
  std::optional<Duration> deadline_after_arrival = std::nullopt;
};

struct Workload {
  std::vector<Arrival> arrivals;  // sorted by `at`, then input order
  Duration span{0};               // last arrival
  int64_t bad_rows_skipped = 0;
  std::string description;
  std::vector<std::string> warnings;  // "file: ..." (rows out of time order, sorted)
};

// Errors name "file:line" and the column or field. Empty files and wrong headers are
// errors; so are a number out of its range, a task longer than `kMaxTraceSpanDays`
// (skippable rows) and arrivals spread over more than that (never skipped).
Result<Workload> load_trace(const std::string& text, const std::string& file, TraceFormat format,
                            const Spec& spec, const TraceOptions& options);

struct SyntheticOptions {
  int64_t tasks = 10'000;
  int64_t days = 7;
  uint64_t seed = 1;
};
// "tasks=N,days=D,seed=S" (any subset).
Result<SyntheticOptions> parse_synthetic_options(const std::string& text);
Workload synthetic_workload(const FleetModel& model, const SyntheticOptions& options);

// The most arrivals `reshape` may make of a smaller workload: about 5 GiB of tasks. An
// hour-long trace stretched to ten years would be 1.7 billion.
inline constexpr size_t kMaxReshapedArrivals = 20'000'000;
// Repeats the workload to cover `days` (traces shorter than that), and multiplies the
// arrival rate by `load_scale` (2.0 = every arrival twice, 0.5 = every other one). An error
// when that would make more than `kMaxReshapedArrivals` (and more than it has).
Result<Workload> reshape(Workload w, std::optional<int64_t> days, double load_scale);

}  // namespace codefleet
