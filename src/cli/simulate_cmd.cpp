// `codefleet simulate SPEC`: a workload (trace or synthetic) against a simulated Azure
// region, once per scaling strategy, side by side.
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <fstream>
#include <iostream>
#include <mutex>
#include <thread>

#include <fmt/format.h>

#include <nlohmann/json.hpp>

#include "cli/common.h"
#include "report/sim_report.h"
#include "report/table.h"
#include "sim/capacity.h"
#include "sim/engine.h"
#include "sim/llm.h"

namespace codefleet::cli {

using ojson = nlohmann::ordered_json;

namespace {

ojson money(Money m) { return ojson::parse(m.to_string(2)); }
double seconds_of(int64_t ms) { return static_cast<double>(ms) / 1000.0; }
double round3(double x) {
  return static_cast<double>(static_cast<int64_t>(x * 1000 + 0.5)) / 1000.0;
}

// The class of the `llm` section: --llm-route-class, checked, or the default. Exit code 2
// (through `bad`) when the option names no llm class.
std::optional<std::string> llm_route_class(const Spec& spec, const FleetModel& model,
                                           const SimulateOptions& opts, bool& bad) {
  bad = false;
  if (opts.llm_route_class) {
    const WorkloadClass* c = spec.find_class(*opts.llm_route_class);
    if (!c) {
      std::vector<std::string> llm;
      for (const auto& k : spec.classes) {
        if (k.kind == ClassKind::kLlm) llm.push_back(k.name);
      }
      std::string names = llm.empty() ? "none" : fmt::format("{}", fmt::join(llm, ", "));
      print_error(
          fmt::format("--llm-route-class: the spec has no workload class '{}' (llm "
                      "classes: {})",
                      *opts.llm_route_class, names));
      bad = true;
      return std::nullopt;
    }
    if (c->kind != ClassKind::kLlm) {
      print_error(fmt::format(
          "--llm-route-class: class '{}' is a compute class; the llm section needs a `kind: "
          "llm` class",
          c->name));
      bad = true;
      return std::nullopt;
    }
    return c->name;
  }
  return default_llm_route_class(model);
}

ojson llm_json(const LlmReplay& r) {
  ojson scenarios = ojson::array();
  for (const auto& s : r.scenarios) {
    ojson cost = ojson::object(), calls = ojson::object();
    for (const auto& [k, v] : s.cost_by_target) cost[k] = money(v);
    for (const auto& [k, v] : s.calls_by_target) calls[k] = v;
    scenarios.push_back({{"name", s.name},
                         {"cost_usd", money(s.cost)},
                         {"cost_by_target", cost},
                         {"calls_by_target", calls},
                         {"gpu_node_hours", round3(s.gpu_node_hours())},
                         {"peak_nodes", s.peak_nodes},
                         {"wait_s",
                          {{"p50", seconds_of(s.wait_p50_ms)},
                           {"p95", seconds_of(s.wait_p95_ms)},
                           {"p99", seconds_of(s.wait_p99_ms)}}},
                         {"served", s.served},
                         {"unserved", s.unserved}});
  }
  return {{"class", r.class_name},
          {"calls", r.calls},
          {"tokens", {{"prompt", r.prompt_tokens}, {"completion", r.completion_tokens}}},
          {"scenarios", scenarios},
          {"cheapest", r.cheapest.empty() ? ojson(nullptr) : ojson(r.cheapest)}};
}

// Who met the SLO, and whether the fleet's capacity rather than its scaling decides the
// waits: a few sentences. The oracle has no start latency and every node on demand; when
// even it misses, quota and max_nodes are what hold the work back (it is not a bound on
// waits — it places work greedily — so another strategy may still do better).
std::vector<std::string> slo_verdict(int64_t slo_ms, const std::vector<SimResult>& results,
                                     const std::vector<std::string>& met, const SimResult* oracle,
                                     const CapacityCheck& c, TimePoint start) {
  std::vector<std::string> out;
  out.push_back(fmt::format("Wait SLO: p95 within {:.0f} s; met by {}.", seconds_of(slo_ms),
                            met.empty() ? "none" : fmt::format("{}", fmt::join(met, ", "))));
  if (!oracle) {
    out.push_back(
        "Run the oracle too to see whether capacity rather than scaling holds the "
        "waits back.");
  } else if (oracle->wait_p95_ms > slo_ms) {
    out.push_back(fmt::format(
        "The oracle, with no start latency and every node on demand, misses it too (p95 "
        "{:.0f} s): on this fleet the waits come from its capacity (quota, max_nodes) more "
        "than from how fast it scales.",
        seconds_of(oracle->wait_p95_ms)));
  }
  for (const auto& r : results) {
    if (r.strategy != "codefleet") continue;
    std::vector<std::string> over;
    for (const auto& [cls, w] : r.waits_by_class) {
      if (w.p95_ms > slo_ms)
        over.push_back(fmt::format("{} ({:.0f} s)", cls, seconds_of(w.p95_ms)));
    }
    if (!over.empty())
      out.push_back(
          fmt::format("Classes whose codefleet p95 is over it: {}.", fmt::join(over, ", ")));
  }
  if (c.peak_gpu_milli > 0) {
    out.push_back(fmt::format(
        "The workload asks for up to {:.2f} GPUs at once ({}); the pools that serve it hold at "
        "most {:.2f} within max_nodes and quota.",
        c.peak_gpu_milli / 1000.0, format_rfc3339(start + c.peak_gpu_at),
        c.fleet_gpu_milli / 1000.0));
    bool missed = std::any_of(results.begin(), results.end(), [&](const SimResult& r) {
      return (r.strategy == "codefleet" || r.strategy == "oracle") && r.wait_p95_ms > slo_ms;
    });
    if (c.peak_gpu_milli > c.fleet_gpu_milli && missed)
      out.push_back(
          "For the GPUs: raise the quota and max_nodes, or scale the load (--load-scale).");
  }
  return out;
}

}  // namespace

int run_simulate(const CommonOptions& common, const SimulateOptions& opts) {
  auto loaded = load_spec_and_catalog(common, opts.spec_file);
  if (!loaded) return kExitUsage;
  if (!passes_validation(common, *loaded, opts.spec_file)) return kExitFindings;
  const Spec& spec = loaded->parsed.spec;
  auto model = load_fleet_model(common, *loaded, opts.spec_file);
  if (!model) return kExitUsage;

  // The workload.
  if (!opts.trace.empty() == !opts.synthetic.empty()) {
    print_error("give either --trace FILE or --synthetic tasks=N,days=D,seed=S");
    return kExitUsage;
  }
  TraceOptions to;
  to.skip_bad_rows = opts.skip_bad_rows;
  if (opts.llm_class) to.llm_class = *opts.llm_class;
  if (opts.gpu_class) to.gpu_class = *opts.gpu_class;
  if (opts.cpu_class) to.cpu_class = *opts.cpu_class;
  auto loaded_workload =
      load_workload(spec, *model, opts.trace, opts.trace_format, opts.synthetic, to, opts.seed);
  if (!loaded_workload) return kExitUsage;
  Workload workload = std::move(*loaded_workload);
  if (opts.load_scale <= 0 || opts.load_scale > 1000) {
    print_error("--load-scale must be above 0 and at most 1000");
    return kExitUsage;
  }
  auto reshaped = reshape(std::move(workload), opts.days, opts.load_scale);
  if (!reshaped) {
    print_error(reshaped.error());
    return kExitUsage;
  }
  workload = std::move(*reshaped);

  // The `llm` section: the trace's calls routed as one llm class, three ways.
  bool bad_class = false;
  auto route_class = llm_route_class(spec, *model, opts, bad_class);
  if (bad_class) return kExitUsage;
  std::optional<LlmReplay> llm;
  if (!opts.trace.empty() && opts.trace_format == "azure-llm") {
    if (route_class) {
      LlmSimOptions lo;
      lo.period = workload.span;
      llm = replay_llm(*model, *route_class, llm_calls_of(workload), lo);
    } else {
      std::cerr << "codefleet: note: no llm section: no `kind: llm` class is served by both a "
                   "Foundry deployment and a self-hosted endpoint (name one with "
                   "--llm-route-class)\n";
    }
  }

  std::vector<std::string> names = opts.strategies.empty() ? strategy_names() : opts.strategies;
  std::vector<std::unique_ptr<ScalingStrategy>> strategies;
  for (const auto& n : names) {
    auto s = make_strategy(n, *model);
    if (!s) {
      print_error(Error{s.error().code, s.error().message, "--strategies"});
      return kExitUsage;
    }
    strategies.push_back(std::move(*s));
  }

  SimOptions so;
  so.region.seed = opts.seed.value_or(1);
  so.region.allocation_failure_rate = opts.allocation_failure_rate;
  so.region.spot_evictions_per_node_hour = opts.spot_evictions_per_hour;
  so.region.hours_per_month = spec.policies.hours_per_month;
  if (opts.disk_price) {
    auto m = Money::parse(*opts.disk_price);
    if (!m || m->micros() < 0) {
      print_error("--disk-usd-per-gib-month: '" + *opts.disk_price + "' is not an amount of USD");
      return kExitUsage;
    }
    so.region.disk_usd_per_gib_month = *m;
    so.region.disk_price_source = "--disk-usd-per-gib-month";
  }
  if (opts.days) so.horizon = std::chrono::hours(24 * *opts.days);
  bool tty = isatty(STDERR_FILENO) && !opts.quiet;

  auto wall_start = std::chrono::steady_clock::now();
  // Strategies are independent runs over the same (read-only) workload: one thread per
  // core, each with its own copy of the fleet model (its caches are not shared).
  std::vector<SimResult> results(strategies.size());
  unsigned workers = std::max(1u, std::min<unsigned>(std::thread::hardware_concurrency(),
                                                     static_cast<unsigned>(strategies.size())));
  std::atomic<size_t> next{0}, done{0};
  std::mutex progress_mu;
  auto work = [&] {
    FleetModel local = *model;
    SimOptions mine = so;
    for (size_t i = next++; i < strategies.size(); i = next++) {
      if (tty) {
        std::string label = names[i];
        mine.progress = [&, label](double f) {
          std::lock_guard<std::mutex> lock(progress_mu);
          int width = 30, filled = static_cast<int>(f * width);
          std::cerr << fmt::format("\r{:<20} [{}{}] {:3.0f}%  ({}/{} strategies done)", label,
                                   std::string(filled, '#'), std::string(width - filled, ' '),
                                   f * 100, done.load(), strategies.size())
                    << std::flush;
        };
      }
      auto strategy = make_strategy(names[i], local);
      results[i] = simulate(local, workload, **strategy, mine);
      ++done;
    }
  };
  std::vector<std::thread> threads;
  for (unsigned w = 1; w < workers; ++w) threads.emplace_back(work);
  work();
  for (auto& t : threads) t.join();
  if (tty) std::cerr << "\r" << std::string(80, ' ') << "\r" << std::flush;
  int64_t events = 0;
  for (const auto& r : results) events += r.events;
  double wall =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - wall_start).count();
  double eps = wall > 0 ? static_cast<double>(events) / wall : 0;

  const SimResult* oracle = nullptr;
  for (const auto& r : results) {
    if (r.strategy == "oracle") oracle = &r;
  }
  int64_t slo_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(spec.policies.wait_slo_p95).count();
  CapacityCheck capacity = check_capacity(*model, workload);
  std::vector<std::string> met_slo;  // the strategies whose p95 is within the SLO
  for (const auto& r : results) {
    if (r.wait_p95_ms <= slo_ms) met_slo.push_back(r.strategy);
  }
  std::vector<std::string> slo_note =
      slo_verdict(slo_ms, results, met_slo, oracle, capacity, so.start);
  // What the spec's min_nodes cost whatever the load: kept by always-on, cluster-autoscaler
  // and codefleet (office-hours stops them out of hours; the oracle pays for busy capacity
  // only), so part of codefleet's distance to the oracle.
  int64_t floor_nodes = 0;
  Money floor_compute;
  int64_t horizon_hours =
      results.empty() ? 0
                      : std::chrono::duration_cast<std::chrono::hours>(results[0].horizon).count();
  for (const auto& p : model->pools) {
    floor_nodes += p.min_nodes;
    floor_compute += p.price.usd_per_hour * (p.min_nodes * horizon_hours);
  }
  bool estimated = false;
  for (const auto& p : model->pools) estimated = estimated || p.price.estimated;
  // Where codefleet's distance to the oracle comes from, under the table and in the report.
  std::vector<std::string> cost_notes;
  const SimResult* ours = nullptr;
  for (const auto& r : results) {
    if (r.strategy == "codefleet") ours = &r;
  }
  if (oracle && ours && oracle->node_cost.micros() > 0) {
    cost_notes.push_back(fmt::format(
        "The oracle's own nodes (no start latency, each gone once empty) cost ${} at "
        "whole-node prices; codefleet is {:.2f} × that. The rest of its distance to the "
        "oracle is tasks sharing nodes: the oracle pays each task's share of a node only.",
        oracle->node_cost.to_string(2),
        static_cast<double>(ours->cost.micros()) /
            static_cast<double>(oracle->node_cost.micros())));
  }
  if (floor_nodes > 0) {
    cost_notes.push_back(fmt::format(
        "min_nodes keep {} node{} up whatever the load: ${} of compute over {} hours, in the "
        "cost of always-on, cluster-autoscaler and codefleet (office-hours stops them out of "
        "hours; the oracle pays for busy capacity only).",
        floor_nodes, floor_nodes == 1 ? "" : "s", floor_compute.to_string(2), horizon_hours));
  }
  std::vector<std::string> report_notes = slo_note;
  report_notes.insert(report_notes.end(), cost_notes.begin(), cost_notes.end());

  if (!opts.timeseries.empty()) {
    std::ofstream ts(opts.timeseries);
    if (!ts) {
      print_error(Error{ErrorCode::kInternal, "cannot write file", opts.timeseries});
      return kExitUsage;
    }
    ts << write_timeseries_csv(results);
  }
  if (!opts.report.empty()) {
    std::ofstream html(opts.report);
    if (!html) {
      print_error(Error{ErrorCode::kInternal, "cannot write file", opts.report});
      return kExitUsage;
    }
    html << render_simulation_report(spec.name, workload.description, results, estimated,
                                     llm ? &*llm : nullptr, report_notes);
  }

  if (common.output == "json") {
    ojson j;
    j["spec"] = opts.spec_file;
    j["workload"] = {{"description", workload.description},
                     {"tasks", workload.arrivals.size()},
                     {"bad_rows_skipped", workload.bad_rows_skipped},
                     {"warnings", workload.warnings}};
    j["prices_estimated"] = estimated;
    j["disk_price"] = {{"usd_per_gib_month", money(so.region.disk_usd_per_gib_month)},
                       {"source", so.region.disk_price_source}};
    j["wait_slo_p95_s"] = seconds_of(slo_ms);
    ojson limits = ojson::object();
    if (!results.empty()) {
      for (const auto& [k, v] : results[0].quota_limits) limits[k] = v;
    }
    j["quota_limits_vcpus"] = limits;
    j["capacity"] = {{"peak_gpus_requested", round3(capacity.peak_gpu_milli / 1000.0)},
                     {"peak_gpus_at", capacity.peak_gpu_milli > 0
                                          ? ojson(format_rfc3339(so.start + capacity.peak_gpu_at))
                                          : ojson(nullptr)},
                     {"fleet_gpus", round3(capacity.fleet_gpu_milli / 1000.0)}};
    j["min_nodes_floor"] = {
        {"nodes", floor_nodes}, {"hours", horizon_hours}, {"compute_usd", money(floor_compute)}};
    j["slo"] = {{"met_by", met_slo},
                {"capacity_bound", oracle ? ojson(oracle->wait_p95_ms > slo_ms) : ojson(nullptr)},
                {"note", fmt::format("{}", fmt::join(slo_note, " "))}};
    j["strategies"] = ojson::array();
    for (const auto& r : results) {
      ojson by_pool = ojson::object(), by_state = ojson::object(), peak = ojson::object(),
            hours = ojson::object();
      for (const auto& [k, v] : r.cost_by_pool) by_pool[k] = money(v);
      for (const auto& [k, v] : r.cost_by_state) by_state[k] = money(v);
      for (const auto& [k, v] : r.peak_quota_vcpus) peak[k] = v;
      for (const auto& [k, v] : r.node_hours_by_pool) hours[k] = round3(v);
      ojson by_class = ojson::object();
      for (const auto& [k, w] : r.waits_by_class) {
        by_class[k] = {{"tasks", w.tasks},
                       {"p50", seconds_of(w.p50_ms)},
                       {"p95", seconds_of(w.p95_ms)},
                       {"p99", seconds_of(w.p99_ms)}};
      }
      ojson sj{{"name", r.strategy},
               {"cost_usd", money(r.cost)},
               {"cost_at_whole_nodes_usd", money(r.node_cost)},
               {"cost_by_pool", by_pool},
               {"cost_by_state", by_state},
               {"node_hours", round3(r.node_hours)},
               {"node_hours_by_pool", hours},
               {"wait_s",
                {{"p50", seconds_of(r.wait_p50_ms)},
                 {"p95", seconds_of(r.wait_p95_ms)},
                 {"p99", seconds_of(r.wait_p99_ms)}}},
               {"wait_slo_met", r.wait_p95_ms <= slo_ms},
               {"wait_s_by_class", by_class},
               {"deadline_misses", r.deadline_misses},
               {"peak_quota_vcpus", peak},
               {"utilisation", round3(r.utilisation)},
               {"tasks",
                {{"in", r.tasks_in},
                 {"completed", r.completed},
                 {"rejected", r.rejected},
                 {"pending", r.pending}}},
               {"preemptions", r.preemptions},
               {"spot_evictions", r.evictions},
               {"allocation_failures", r.allocation_failures},
               {"events", r.events}};
      if (oracle && oracle->cost.micros() > 0)
        sj["cost_vs_oracle"] = round3(static_cast<double>(r.cost.micros()) /
                                      static_cast<double>(oracle->cost.micros()));
      j["strategies"].push_back(sj);
    }
    if (llm) j["llm"] = llm_json(*llm);
    j["events"] = events;
    j["wall_seconds"] = round3(wall);
    j["events_per_second"] = static_cast<int64_t>(eps);
    std::cout << j.dump(2) << "\n";
    return kExitOk;
  }
  std::cout << fmt::format("{} — {}{}\n\n", spec.name, workload.description,
                           estimated ? " (prices estimated from a fallback region)" : "");
  Table t({"STRATEGY", "COST_USD", "VS_ORACLE", "NODE_HOURS", "WAIT_P50", "WAIT_P95", "WAIT_P99",
           "SLO", "MISSES", "DONE", "REJECTED", "PENDING"});
  for (size_t c = 1; c <= 11; ++c) t.align_right(c);
  for (const auto& r : results) {
    std::string ratio = oracle && oracle->cost.micros() > 0
                            ? fmt::format("{:.2f}", static_cast<double>(r.cost.micros()) /
                                                        static_cast<double>(oracle->cost.micros()))
                            : "-";
    t.add({r.strategy, r.cost.to_string(2), ratio, fmt::format("{:.1f}", r.node_hours),
           fmt::format("{:.0f}s", seconds_of(r.wait_p50_ms)),
           fmt::format("{:.0f}s", seconds_of(r.wait_p95_ms)),
           fmt::format("{:.0f}s", seconds_of(r.wait_p99_ms)),
           r.wait_p95_ms <= slo_ms ? "met" : "missed", std::to_string(r.deadline_misses),
           std::to_string(r.completed), std::to_string(r.rejected), std::to_string(r.pending)});
  }
  std::cout << t.render();
  std::cout << fmt::format("\n{}\n", fmt::join(slo_note, "\n  "));
  for (const auto& n : cost_notes) std::cout << "\n" << n << "\n";
  std::cout << "\nPeak quota use (vCPUs):\n";
  for (const auto& r : results) {
    std::string line;
    for (const auto& [family, v] : r.peak_quota_vcpus) line += fmt::format("  {}={}", family, v);
    std::cout << fmt::format("  {:<20}{}\n", r.strategy, line);
  }
  if (llm) {
    std::cout << fmt::format(
        "\nLLM calls as class {}: {} calls, {} prompt + {} completion tokens\n", llm->class_name,
        llm->calls, llm->prompt_tokens, llm->completion_tokens);
    Table lt({"SCENARIO", "COST_USD", "GPU_NODE_HOURS", "PEAK_NODES", "WAIT_P50", "WAIT_P95",
              "WAIT_P99", "UNSERVED", "CALLS_BY_TARGET"});
    for (size_t c = 1; c <= 7; ++c) lt.align_right(c);
    for (const auto& s : llm->scenarios) {
      std::vector<std::string> by;
      for (const auto& [k, v] : s.calls_by_target) by.push_back(fmt::format("{}={}", k, v));
      lt.add({s.name, s.cost.to_string(2), fmt::format("{:.1f}", s.gpu_node_hours()),
              std::to_string(s.peak_nodes), fmt::format("{:.1f}s", seconds_of(s.wait_p50_ms)),
              fmt::format("{:.1f}s", seconds_of(s.wait_p95_ms)),
              fmt::format("{:.1f}s", seconds_of(s.wait_p99_ms)), std::to_string(s.unserved),
              fmt::format("{}", fmt::join(by, " "))});
    }
    std::cout << lt.render();
    std::cout << fmt::format("  cheapest: {}\n",
                             llm->cheapest.empty() ? "none served every call" : llm->cheapest);
  }
  std::cout << fmt::format("\n{} events in {:.2f} s ({:.0f} events/s)\n", events, wall, eps);
  return kExitOk;
}

}  // namespace codefleet::cli
