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
//   JSONL: one task JSON per line, with `submitted_at` (RFC 3339).
//   Synthetic: office-hours diurnal load in the spec's time zone, quieter weekends,
//     random bursts; task durations scaled so the busiest hour uses ~70% of each class's
//     pools.
//
//   auto w = load_trace(text, "trace.csv", TraceFormat::kAzureLlm, spec, opts);
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "workload/task.h"

namespace codefleet {

struct Spec;
struct FleetModel;

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
  Task task;
};

struct Workload {
  std::vector<Arrival> arrivals;  // sorted by `at`, then input order
  Duration span{0};               // last arrival
  int64_t bad_rows_skipped = 0;
  std::string description;
};

// Errors name "file:line" and the column. Empty files and wrong headers are errors.
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

// Repeats the workload to cover `days` (traces shorter than that), and multiplies the
// arrival rate by `load_scale` (2.0 = every arrival twice, 0.5 = every other one).
Workload reshape(Workload w, std::optional<int64_t> days, double load_scale);

}  // namespace codefleet
