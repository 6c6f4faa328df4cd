// `codefleet submit SPEC --server URL`: replays a workload (a trace or the synthetic
// generator, as `simulate` reads them) against a running daemon, one POST /v1/tasks per
// arrival at the trace's pace (`--speed` trace seconds per wall second; 0 = as fast as
// possible). Each request carries an Idempotency-Key derived from the workload and the
// arrival's index, so running the same submit twice never creates a task twice.
#include <chrono>
#include <cstdlib>
#include <iostream>
#include <thread>

#include <httplib.h>

#include <fmt/format.h>
#include <nlohmann/json.hpp>

#include "cli/common.h"

namespace codefleet::cli {

int run_submit(const CommonOptions& common, const SubmitOptions& opts) {
  std::string key = opts.key;
  if (key.empty()) {
    const char* env = std::getenv("CODEFLEET_API_KEY");
    if (env) key = env;
  }
  if (key.empty()) {
    print_error("no API key: pass --key KEY or set CODEFLEET_API_KEY");
    return kExitUsage;
  }
  if (opts.speed < 0) {
    print_error(Error{ErrorCode::kInvalidInput, "must be 0 (no pacing) or more", "--speed"});
    return kExitUsage;
  }
  auto loaded = load_spec_and_catalog(common, opts.spec_file);
  if (!loaded) return kExitUsage;
  if (!passes_validation(common, *loaded, opts.spec_file)) return kExitFindings;
  auto model = load_fleet_model(common, *loaded, opts.spec_file);
  if (!model) return kExitUsage;
  TraceOptions to;
  if (opts.llm_class) to.llm_class = *opts.llm_class;
  if (opts.gpu_class) to.gpu_class = *opts.gpu_class;
  if (opts.cpu_class) to.cpu_class = *opts.cpu_class;
  auto workload = load_workload(loaded->parsed.spec, *model, opts.trace, opts.trace_format,
                                opts.synthetic, to, opts.seed);
  if (!workload) return kExitUsage;

  httplib::Client client(opts.server);
  if (!client.is_valid()) {
    print_error(Error{ErrorCode::kInvalidInput, "not a URL: " + opts.server, "--server"});
    return kExitUsage;
  }
  client.set_connection_timeout(5);
  client.set_read_timeout(30);
  httplib::Headers headers{{"Authorization", "Bearer " + key}};
  std::string source = opts.trace.empty() ? "synthetic-" + opts.synthetic : opts.trace;
  std::string prefix = fmt::format("{:016x}", std::hash<std::string>{}(source));

  size_t limit = opts.limit > 0 ? static_cast<size_t>(opts.limit) : workload->arrivals.size();
  int64_t created = 0, replayed = 0, rejected = 0;
  std::string first_rejection;
  auto start = std::chrono::steady_clock::now();
  for (size_t i = 0; i < workload->arrivals.size() && i < limit; ++i) {
    const Arrival& a = workload->arrivals[i];
    if (opts.speed > 0) {
      auto due = start + std::chrono::duration_cast<std::chrono::steady_clock::duration>(
                             std::chrono::duration<double, std::milli>(
                                 static_cast<double>(a.at.count()) / opts.speed));
      std::this_thread::sleep_until(due);
    }
    Task t = a.task;
    t.tenant = opts.tenant.empty() ? t.tenant : opts.tenant;
    // A trace's deadline keeps its distance from the arrival, now that it arrives.
    if (a.deadline_after_arrival) t.deadline = SystemClock().now() + *a.deadline_after_arrival;
    auto h = headers;
    h.emplace("Idempotency-Key", fmt::format("submit-{}-{}", prefix, i));
    auto body = nlohmann::json::parse(task_to_json(t));
    if (body.value("id", "").empty()) body.erase("id");
    auto r = client.Post("/v1/tasks", h, body.dump(), "application/json");
    if (!r) {
      print_error(
          Error{ErrorCode::kUnavailable,
                fmt::format("cannot reach {}: {}", opts.server, httplib::to_string(r.error())),
                "--server"});
      return kExitUsage;
    }
    if (r->status == 201) {
      ++created;
    } else if (r->status == 200) {
      ++replayed;
    } else if (r->status == 401 || r->status == 403) {
      auto e = nlohmann::json::parse(r->body, nullptr, false);
      print_error(fmt::format("the daemon refused the key ({}): {}", r->status,
                              e.is_object() && e.contains("error") && e["error"].is_object()
                                  ? e["error"].value("message", "")
                                  : r->body));
      return kExitUsage;
    } else {
      ++rejected;
      if (first_rejection.empty()) first_rejection = fmt::format("{}: {}", r->status, r->body);
    }
    if (!opts.quiet && (i + 1) % 100 == 0) {
      std::cerr << fmt::format("\rsubmitted {}/{}", i + 1,
                               std::min(limit, workload->arrivals.size()))
                << std::flush;
    }
  }
  if (!opts.quiet) std::cerr << "\n";
  if (common.output == "json") {
    std::cout << nlohmann::json{{"created", created},
                                {"replayed", replayed},
                                {"rejected", rejected},
                                {"first_rejection", first_rejection}}
                     .dump(2)
              << "\n";
  } else {
    std::cout << fmt::format("{} created, {} already there (same Idempotency-Key), {} rejected\n",
                             created, replayed, rejected);
    if (!first_rejection.empty()) std::cout << "first rejection: " << first_rejection << "\n";
  }
  return rejected > 0 ? kExitFindings : kExitOk;
}

}  // namespace codefleet::cli
