#include "workload/traces.h"

#include <algorithm>
#include <cmath>
#include <map>
#include <random>

#include <fmt/format.h>

#include "core/text.h"
#include "routing/fleet_model.h"
#include "spec/spec.h"

namespace codefleet {

using namespace std::chrono;

Result<TraceFormat> parse_trace_format(const std::string& name) {
  if (name == "azure-llm") return TraceFormat::kAzureLlm;
  if (name == "alibaba-pods") return TraceFormat::kAlibabaPods;
  if (name == "jsonl") return TraceFormat::kJsonl;
  return make_error(
      ErrorCode::kInvalidInput,
      fmt::format("unknown trace format '{}' (valid: azure-llm, alibaba-pods, jsonl)", name));
}

namespace {

struct Line {
  int number;
  std::string_view text;
};

std::vector<Line> lines_of(const std::string& text) {
  std::vector<Line> out;
  size_t start = 0;
  int n = 1;
  while (start <= text.size()) {
    size_t end = text.find('\n', start);
    if (end == std::string::npos) end = text.size();
    std::string_view l(text.data() + start, end - start);
    if (!l.empty() && l.back() == '\r') l.remove_suffix(1);
    if (!trim(l).empty()) out.push_back({n, l});
    if (end == text.size()) break;
    start = end + 1;
    ++n;
  }
  return out;
}

std::vector<std::string_view> cells_of(std::string_view line) {
  std::vector<std::string_view> out;
  size_t start = 0;
  while (true) {
    size_t comma = line.find(',', start);
    out.push_back(line.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

std::optional<int64_t> int_of(std::string_view s) {
  s = trim(s);
  if (s.empty() || s.size() > 18) return std::nullopt;
  int64_t v = 0;
  for (char c : s) {
    if (c < '0' || c > '9') return std::nullopt;
    v = v * 10 + (c - '0');
  }
  return v;
}

// Collects bad rows: fails at the first unless skipping.
struct BadRows {
  const std::string& file;
  bool skip;
  int64_t skipped = 0;
  std::optional<Error> error;
  bool bad(int line, const std::string& why) {
    if (skip) {
      ++skipped;
      return true;
    }
    if (!error)
      error = Error{ErrorCode::kInvalidInput,
                    why + " (use --skip-bad-rows to skip and count such rows)",
                    fmt::format("{}:{}", file, line)};
    return false;
  }
};

Result<const WorkloadClass*> class_for(const Spec& spec, const std::string& name,
                                       const char* flag) {
  const WorkloadClass* c = spec.find_class(name);
  if (!c) {
    std::vector<std::string> names;
    for (const auto& k : spec.classes) names.push_back(k.name);
    return make_error(ErrorCode::kInvalidInput,
                      fmt::format("{}: the spec has no workload class '{}' (classes: {})", flag,
                                  name, fmt::join(names, ", ")));
  }
  return c;
}

Result<Workload> azure_llm(const std::vector<Line>& lines, const Spec& spec, const TraceOptions& o,
                           BadRows& bad) {
  auto cls = class_for(spec, o.llm_class, "--llm-class");
  if (!cls) return tl::unexpected(cls.error());
  const auto& m = o.llm;
  if (m.prefill_tokens_per_s_per_gpu <= 0 || m.decode_tokens_per_s_per_gpu <= 0 ||
      m.concurrency_per_gpu <= 0) {
    return make_error(ErrorCode::kInvalidInput,
                      "the LLM throughput model needs positive prefill, decode and concurrency");
  }
  Workload w;
  std::optional<TimePoint> first;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto c = cells_of(lines[i].text);
    if (c.size() != 3) {
      if (!bad.bad(lines[i].number, fmt::format("expected 3 columns, found {}", c.size()))) break;
      continue;
    }
    std::string ts(trim(c[0]));
    if (ts.size() >= 19 && ts[10] == ' ') ts[10] = 'T';
    auto t = parse_rfc3339(ts + "Z");
    auto ctx = int_of(c[1]);
    auto gen = int_of(c[2]);
    if (!t) {
      if (!bad.bad(lines[i].number,
                   fmt::format("column TIMESTAMP: '{}' is not YYYY-MM-DD HH:MM:SS.fffffff", c[0])))
        break;
      continue;
    }
    if (!ctx || !gen) {
      if (!bad.bad(
              lines[i].number,
              fmt::format("columns ContextTokens/GeneratedTokens: '{}', '{}' are not whole numbers",
                          c[1], c[2]))) {
        break;
      }
      continue;
    }
    if (!first) first = *t;
    Task task = task_from_class(**cls);
    task.resources = {1, 2 * kMibPerGib, kMilliPerGpu / m.concurrency_per_gpu,
                      94 * kMibPerGib / m.concurrency_per_gpu};
    int64_t ms = *ctx * 1000 / m.prefill_tokens_per_s_per_gpu +
                 *gen * 1000 * m.concurrency_per_gpu / m.decode_tokens_per_s_per_gpu;
    task.duration = milliseconds(std::max<int64_t>(ms, 1));
    task.tokens = TokenCounts{*ctx, *gen};
    w.arrivals.push_back({*t >= *first ? *t - *first : Duration{0}, std::move(task)});
  }
  if (bad.error) return tl::unexpected(*bad.error);
  return w;
}

Result<Workload> alibaba(const std::vector<Line>& lines, const std::string& file, const Spec& spec,
                         const TraceOptions& o, BadRows& bad) {
  auto header = cells_of(lines[0].text);
  std::map<std::string, size_t> col;
  for (size_t i = 0; i < header.size(); ++i) col[std::string(trim(header[i]))] = i;
  for (const char* need : {"cpu_milli", "memory_mib", "num_gpu", "gpu_milli"}) {
    if (!col.count(need)) {
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("missing column '{}' (not an Alibaba pods CSV?)", need),
                        file + ":1");
    }
  }
  for (const char* need : {"creation_time", "deletion_time"}) {
    if (!col.count(need)) {
      return make_error(
          ErrorCode::kInvalidInput,
          fmt::format(
              "missing column '{}': this file has resource requests only and cannot drive a "
              "time-based simulation",
              need),
          file + ":1");
    }
  }
  auto gpu_cls = class_for(spec, o.gpu_class, "--gpu-class");
  if (!gpu_cls) return tl::unexpected(gpu_cls.error());
  auto cpu_cls = class_for(spec, o.cpu_class, "--cpu-class");
  if (!cpu_cls) return tl::unexpected(cpu_cls.error());
  struct Row {
    int64_t created;
    Task task;
  };
  std::vector<Row> rows;
  for (size_t i = 1; i < lines.size(); ++i) {
    auto c = cells_of(lines[i].text);
    int ln = lines[i].number;
    if (c.size() != header.size()) {
      if (!bad.bad(ln, fmt::format("expected {} columns, found {}", header.size(), c.size())))
        break;
      continue;
    }
    auto get = [&](const char* name) -> std::string_view {
      return col.count(name) ? c[col[name]] : std::string_view();
    };
    auto cpu = int_of(get("cpu_milli"));
    auto mem = int_of(get("memory_mib"));
    auto ngpu = int_of(get("num_gpu"));
    auto gmilli = int_of(get("gpu_milli"));
    auto created = int_of(get("creation_time"));
    auto deleted = int_of(get("deletion_time"));
    auto scheduled = int_of(get("scheduled_time"));
    if (!cpu || !mem || !ngpu || !gmilli) {
      if (!bad.bad(ln, "columns cpu_milli, memory_mib, num_gpu, gpu_milli must be whole numbers"))
        break;
      continue;
    }
    if (!created || !deleted) {
      if (!bad.bad(ln, "columns creation_time and deletion_time must be whole numbers of seconds"))
        break;
      continue;
    }
    int64_t start = scheduled ? *scheduled : *created;
    if (*deleted < start) {
      if (!bad.bad(ln, fmt::format("deletion_time {} is before the start {}", *deleted, start)))
        break;
      continue;
    }
    const WorkloadClass& wc = *ngpu > 0 ? **gpu_cls : **cpu_cls;
    Task t = task_from_class(wc);
    t.resources.vcpus = std::max<int64_t>(1, (*cpu + 999) / 1000);
    t.resources.memory_mib = *mem;
    t.resources.gpu_milli =
        *ngpu == 0 ? 0 : (*ngpu == 1 ? std::min<int64_t>(*gmilli, 1000) : *ngpu * 1000);
    t.resources.gpu_memory_mib = 0;
    t.duration = seconds(std::max<int64_t>(1, *deleted - start));
    std::string qos(trim(get("qos")));
    t.preemptible = qos == "BE" || wc.preemptible;
    rows.push_back({*created, std::move(t)});
  }
  if (bad.error) return tl::unexpected(*bad.error);
  Workload w;
  int64_t min_created = INT64_MAX;
  for (const auto& r : rows) min_created = std::min(min_created, r.created);
  for (auto& r : rows) w.arrivals.push_back({seconds(r.created - min_created), std::move(r.task)});
  return w;
}

Result<Workload> jsonl(const std::vector<Line>& lines, const std::string& file, const Spec& spec,
                       BadRows& bad) {
  Workload w;
  std::vector<std::pair<TimePoint, Task>> rows;
  for (const auto& l : lines) {
    auto t = parse_task_json(std::string(l.text), spec, fmt::format("{}:{}", file, l.number));
    if (!t) {
      if (!bad.bad(l.number, t.error().message)) break;
      continue;
    }
    if (t->submitted_at == TimePoint{}) {
      if (!bad.bad(l.number, "field 'submitted_at' is required in a JSONL trace (RFC 3339)")) break;
      continue;
    }
    rows.push_back({t->submitted_at, std::move(*t)});
  }
  if (bad.error) return tl::unexpected(*bad.error);
  TimePoint first = TimePoint::max();
  for (const auto& r : rows) first = std::min(first, r.first);
  for (auto& [at, t] : rows) w.arrivals.push_back({at - first, std::move(t)});
  return w;
}

}  // namespace

Result<Workload> load_trace(const std::string& text, const std::string& file, TraceFormat format,
                            const Spec& spec, const TraceOptions& options) {
  auto lines = lines_of(text);
  if (lines.empty()) return make_error(ErrorCode::kInvalidInput, "the trace is empty", file);
  BadRows bad{file, options.skip_bad_rows, 0, std::nullopt};
  Result<Workload> w = make_error(ErrorCode::kInternal, "");
  if (format == TraceFormat::kAzureLlm) {
    auto header = cells_of(lines[0].text);
    if (header.size() != 3 || trim(header[0]) != "TIMESTAMP" ||
        trim(header[1]) != "ContextTokens" || trim(header[2]) != "GeneratedTokens") {
      return make_error(
          ErrorCode::kInvalidInput,
          fmt::format("header is '{}', expected 'TIMESTAMP,ContextTokens,GeneratedTokens'",
                      lines[0].text),
          file + ":" + std::to_string(lines[0].number));
    }
    w = azure_llm(lines, spec, options, bad);
  } else if (format == TraceFormat::kAlibabaPods) {
    w = alibaba(lines, file, spec, options, bad);
  } else {
    w = jsonl(lines, file, spec, bad);
  }
  if (!w) return w;
  std::stable_sort(w->arrivals.begin(), w->arrivals.end(),
                   [](const Arrival& a, const Arrival& b) { return a.at < b.at; });
  if (w->arrivals.empty())
    return make_error(ErrorCode::kInvalidInput, "the trace has no usable rows", file);
  w->span = w->arrivals.back().at;
  w->bad_rows_skipped = bad.skipped;
  w->description =
      fmt::format("{} ({} tasks{})", file, w->arrivals.size(),
                  bad.skipped ? fmt::format(", {} bad rows skipped", bad.skipped) : "");
  return w;
}

Result<SyntheticOptions> parse_synthetic_options(const std::string& text) {
  SyntheticOptions o;
  for (const auto& part : split(text, ',')) {
    if (trim(part).empty()) continue;
    size_t eq = part.find('=');
    std::string key(trim(part.substr(0, eq)));
    auto v = eq == std::string::npos ? std::nullopt : int_of(part.substr(eq + 1));
    if (!v)
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("--synthetic: '{}' is not key=number", part));
    if (key == "tasks" && *v >= 1 && *v <= 100'000'000)
      o.tasks = *v;
    else if (key == "days" && *v >= 1 && *v <= 3650)
      o.days = *v;
    else if (key == "seed")
      o.seed = static_cast<uint64_t>(*v);
    else
      return make_error(
          ErrorCode::kInvalidInput,
          fmt::format(
              "--synthetic: '{}' is unknown or out of range (tasks=1..1e8, days=1..3650, seed=N)",
              part));
  }
  return o;
}

Workload synthetic_workload(const FleetModel& model, const SyntheticOptions& o) {
  std::mt19937_64 rng(o.seed);
  const Spec& spec = *model.spec;
  TimeZone zone = model.off_peak ? model.off_peak->zone : TimeZone::utc();
  // Hourly weights over the horizon (local time): office hours busy, nights and weekends quiet,
  // bursts.
  int64_t hours_total = o.days * 24;
  std::vector<double> weight(hours_total);
  std::uniform_real_distribution<double> u(0.0, 1.0);
  TimePoint epoch{};
  for (int64_t h = 0; h < hours_total; ++h) {
    LocalTime lt = zone.local(epoch + hours(h));
    int hour = lt.minute_of_day / 60;
    bool weekend = lt.weekday >= 5;
    double wgt =
        weekend ? 0.15
                : (hour >= 8 && hour < 18 ? 1.0
                                          : (hour == 7 || (hour >= 18 && hour < 21) ? 0.4 : 0.08));
    weight[h] = wgt;
  }
  for (int64_t d = 0; d < o.days; ++d) {
    if (u(rng) < 0.3) weight[d * 24 + static_cast<int64_t>(u(rng) * 24)] *= 3.0;  // a burst
  }
  double total_w = 0, peak_w = 0;
  for (double x : weight) {
    total_w += x;
    peak_w = std::max(peak_w, x);
  }
  // Classes: compute classes some pool serves. Each pool's capacity is split among its classes.
  struct Cls {
    const WorkloadClass* c;
    double capacity = 0;  // vCPUs (CPU classes) or milli-GPUs (GPU classes)
    double weight = 0;
    Duration duration{0};
  };
  std::vector<Cls> classes;
  for (const auto& c : spec.classes) {
    if (c.kind != ClassKind::kCompute) continue;
    Cls k{&c};
    for (const auto& p : model.pools) {
      if (!p.serves(c.name) || !c.resources.fits_in(p.node)) continue;
      int64_t sharing = 0;
      for (const auto& other : spec.classes)
        sharing += other.kind == ClassKind::kCompute && p.serves(other.name) ? 1 : 0;
      double cap =
          static_cast<double>(c.resources.gpu_milli > 0 ? p.node.gpu_milli : p.node.vcpus) *
          p.max_nodes;
      k.capacity += cap / std::max<int64_t>(1, sharing);
    }
    if (k.capacity <= 0) continue;
    double need =
        static_cast<double>(c.resources.gpu_milli > 0 ? c.resources.gpu_milli
                                                      : std::max<int64_t>(1, c.resources.vcpus));
    k.weight = k.capacity / need;
    classes.push_back(k);
  }
  Workload w;
  if (classes.empty()) return w;
  double sum_cw = 0;
  for (const auto& k : classes) sum_cw += k.weight;
  for (auto& k : classes) {
    double n_c = static_cast<double>(o.tasks) * k.weight / sum_cw;
    double peak_rate_per_h = n_c * peak_w / total_w;
    double need = static_cast<double>(k.c->resources.gpu_milli > 0
                                          ? k.c->resources.gpu_milli
                                          : std::max<int64_t>(1, k.c->resources.vcpus));
    double fit_h = peak_rate_per_h > 0 ? 0.7 * k.capacity / (peak_rate_per_h * need) : 1e9;
    double dur_h = std::min(fit_h, duration_cast<milliseconds>(k.c->duration).count() / 3.6e6);
    k.duration = milliseconds(std::max<int64_t>(30'000, static_cast<int64_t>(dur_h * 3.6e6)));
  }
  std::vector<double> cls_w;
  for (const auto& k : classes) cls_w.push_back(k.weight);
  std::discrete_distribution<size_t> cls_dist(cls_w.begin(), cls_w.end());
  std::lognormal_distribution<double> jitter(-0.125, 0.5);  // mean 1.0
  // Tasks per hour: the expected share, remainders to the largest fractions (deterministic).
  std::vector<int64_t> per_hour(hours_total);
  std::vector<std::pair<double, int64_t>> frac;
  int64_t assigned = 0;
  for (int64_t h = 0; h < hours_total; ++h) {
    double exact = static_cast<double>(o.tasks) * weight[h] / total_w;
    per_hour[h] = static_cast<int64_t>(exact);
    assigned += per_hour[h];
    frac.push_back({exact - static_cast<double>(per_hour[h]), h});
  }
  std::sort(frac.begin(), frac.end(), [](const auto& a, const auto& b) {
    return a.first > b.first || (a.first == b.first && a.second < b.second);
  });
  for (int64_t i = 0; assigned < o.tasks; ++i, ++assigned)
    per_hour[frac[static_cast<size_t>(i) % frac.size()].second]++;
  w.arrivals.reserve(static_cast<size_t>(o.tasks));
  static const char* kTenants[] = {"team-a", "team-b", "team-c", "team-d"};
  for (int64_t h = 0; h < hours_total; ++h) {
    for (int64_t i = 0; i < per_hour[h]; ++i) {
      const Cls& k = classes[cls_dist(rng)];
      Task t = task_from_class(*k.c);
      t.tenant = kTenants[rng() % 4];
      t.duration = milliseconds(std::max<int64_t>(
          1000,
          static_cast<int64_t>(
              static_cast<double>(duration_cast<milliseconds>(k.duration).count()) * jitter(rng))));
      Duration at = hours(h) + milliseconds(static_cast<int64_t>(u(rng) * 3.6e6));
      w.arrivals.push_back({at, std::move(t)});
    }
  }
  std::stable_sort(w.arrivals.begin(), w.arrivals.end(),
                   [](const Arrival& a, const Arrival& b) { return a.at < b.at; });
  w.span = hours(hours_total);
  w.description = fmt::format("synthetic: tasks={}, days={}, seed={}", o.tasks, o.days, o.seed);
  return w;
}

Workload reshape(Workload w, std::optional<int64_t> days, double load_scale) {
  if (days && w.span.count() > 0) {
    Duration horizon = hours(24 * *days);
    Duration period = w.span + seconds(1);
    size_t n = w.arrivals.size();
    std::vector<Arrival> out;
    for (int64_t rep = 0; milliseconds(rep * duration_cast<milliseconds>(period).count()) < horizon;
         ++rep) {
      for (size_t i = 0; i < n; ++i) {
        Duration at = w.arrivals[i].at + rep * period;
        if (at >= horizon) break;
        out.push_back({at, w.arrivals[i].task});
      }
    }
    w.arrivals = std::move(out);
    w.span = horizon;
  }
  if (load_scale != 1.0 && load_scale > 0) {
    std::vector<Arrival> out;
    double acc = 0;
    for (auto& a : w.arrivals) {
      acc += load_scale;
      while (acc >= 1.0) {
        out.push_back(a);
        acc -= 1.0;
      }
    }
    w.arrivals = std::move(out);
  }
  return w;
}

}  // namespace codefleet
