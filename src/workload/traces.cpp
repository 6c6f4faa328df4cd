#include "workload/traces.h"

#include <algorithm>
#include <map>

#include <fmt/format.h>

#include "catalog/csv.h"
#include "core/money.h"
#include "core/text.h"
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

constexpr int64_t kMsPerDay = 86'400'000;
constexpr int64_t kMaxSpanMs = kMaxTraceSpanDays * kMsPerDay;

// One task read from a trace, before the rows are put in time order.
struct Row {
  int64_t at = 0;  // in the format's time unit (`TimeField`)
  int line = 0;
  Task task;
  std::optional<Duration> deadline_after_arrival;
};

// How a format's arrival times read: the field that holds them, its unit, and whether the
// rows are a log in time order (Azure, JSONL) or a table in no order (Alibaba pods).
struct TimeField {
  const char* name;
  int64_t ms_per_unit;  // 1: milliseconds since the epoch; 1000: seconds
  bool logged_in_order;
  std::string shown(int64_t at) const {
    return ms_per_unit == 1 ? format_rfc3339(from_unix_ms(at)) : std::to_string(at);
  }
};

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

Error row_error(std::string message) {
  return Error{ErrorCode::kInvalidInput, std::move(message), {}};
}

// A whole-number cell, its error naming the column.
Result<int64_t> whole(std::string_view cell, std::string_view column, int64_t min, int64_t max) {
  auto v = parse_whole_number(cell, min, max);
  if (!v) return tl::unexpected(row_error(fmt::format("column {}: {}", column, v.error().message)));
  return v;
}

// Header cells as typed, bytes a terminal would hide (a byte order mark, a no-break space)
// shown as \xNN: two headers that look alike must not read alike in the error.
std::string shown_header(const std::vector<std::string>& cells) {
  std::string out;
  for (size_t i = 0; i < cells.size(); ++i) {
    if (i) out += ',';
    for (unsigned char c : cells[i])
      out += c >= 0x20 && c < 0x7f ? std::string(1, static_cast<char>(c))
                                   : fmt::format("\\x{:02X}", c);
  }
  return out;
}

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

// Milliseconds an LLM request takes on the throughput model. In 128 bits: with the tokens
// within `kMaxTokensPerRequest` and the model's figures any int64, no product can wrap.
Int128 llm_duration_ms(int64_t context, int64_t generated, const LlmThroughputModel& m) {
  return static_cast<Int128>(context) * 1000 / m.prefill_tokens_per_s_per_gpu +
         static_cast<Int128>(generated) * 1000 * m.concurrency_per_gpu /
             m.decode_tokens_per_s_per_gpu;
}

Result<Row> azure_row(const CsvRow& r, const Task& proto, const LlmThroughputModel& m) {
  if (r.cells.size() != 3)
    return tl::unexpected(row_error(fmt::format("expected 3 columns, found {}", r.cells.size())));
  std::string ts(trim(r.cells[0]));
  if (ts.size() >= 19 && ts[10] == ' ') ts[10] = 'T';
  auto t = parse_rfc3339(ts + "Z");
  if (!t) {
    return tl::unexpected(row_error(fmt::format(
        "column TIMESTAMP: '{}' is not YYYY-MM-DD HH:MM:SS.fffffff", r.cells[0].substr(0, 40))));
  }
  auto ctx = whole(r.cells[1], "ContextTokens", 0, kMaxTokensPerRequest);
  if (!ctx) return tl::unexpected(ctx.error());
  auto gen = whole(r.cells[2], "GeneratedTokens", 0, kMaxTokensPerRequest);
  if (!gen) return tl::unexpected(gen.error());
  Int128 ms = llm_duration_ms(*ctx, *gen, m);
  if (ms > kMaxSpanMs) {
    return tl::unexpected(row_error(fmt::format(
        "columns ContextTokens/GeneratedTokens: {} and {} tokens take {} days on the throughput "
        "model; a task may run at most {} days",
        *ctx, *gen, static_cast<int64_t>(std::min<Int128>(ms / kMsPerDay, INT64_MAX)),
        kMaxTraceSpanDays)));
  }
  Row row{unix_ms(*t), r.line, proto, std::nullopt};
  row.task.duration = milliseconds(std::max<int64_t>(static_cast<int64_t>(ms), 1));
  row.task.tokens = TokenCounts{*ctx, *gen};
  return row;
}

Result<std::vector<Row>> azure_llm(const CsvTable& table, const Spec& spec, const TraceOptions& o,
                                   BadRows& bad) {
  const auto& h = table.header;
  if (h.size() != 3 || trim(h[0]) != "TIMESTAMP" || trim(h[1]) != "ContextTokens" ||
      trim(h[2]) != "GeneratedTokens") {
    return make_error(
        ErrorCode::kInvalidInput,
        fmt::format("header is '{}', expected 'TIMESTAMP,ContextTokens,GeneratedTokens'",
                    shown_header(h)),
        table.file + ":1");
  }
  auto cls = class_for(spec, o.llm_class, "--llm-class");
  if (!cls) return tl::unexpected(cls.error());
  const auto& m = o.llm;
  if (m.prefill_tokens_per_s_per_gpu <= 0 || m.decode_tokens_per_s_per_gpu <= 0 ||
      m.concurrency_per_gpu <= 0) {
    return make_error(ErrorCode::kInvalidInput,
                      "the LLM throughput model needs positive prefill, decode and concurrency");
  }
  Task proto = task_from_class(**cls);
  proto.resources = {1, 2 * kMibPerGib, kMilliPerGpu / m.concurrency_per_gpu,
                     94 * kMibPerGib / m.concurrency_per_gpu};
  std::vector<Row> rows;
  for (const CsvRow& r : table.rows) {
    auto row = azure_row(r, proto, m);
    if (row)
      rows.push_back(std::move(*row));
    else if (!bad.bad(r.line, row.error().message))
      break;
  }
  if (bad.error) return tl::unexpected(*bad.error);
  return rows;
}

// The columns of an Alibaba pods CSV (header names trimmed), and the two classes.
struct PodColumns {
  std::map<std::string, size_t, std::less<>> index;
  const WorkloadClass* gpu_class = nullptr;
  const WorkloadClass* cpu_class = nullptr;
  std::string_view cell(const CsvRow& r, std::string_view name) const {
    auto it = index.find(name);
    return it == index.end() ? std::string_view() : std::string_view(r.cells[it->second]);
  }
};

// A pod's run: from `scheduled_time` (or creation, for a pod never scheduled) to deletion.
Result<int64_t> pod_run_s(const CsvRow& r, const PodColumns& c, int64_t created) {
  auto deleted = whole(c.cell(r, "deletion_time"), "deletion_time", 0, INT64_MAX);
  if (!deleted) return deleted;
  int64_t start = created;
  if (!trim(c.cell(r, "scheduled_time")).empty()) {
    auto scheduled = whole(c.cell(r, "scheduled_time"), "scheduled_time", 0, INT64_MAX);
    if (!scheduled) return scheduled;
    if (*scheduled < created) {
      return tl::unexpected(row_error(fmt::format(
          "column scheduled_time: {} is before the creation_time {}", *scheduled, created)));
    }
    start = *scheduled;
  }
  if (*deleted < start) {
    return tl::unexpected(
        row_error(fmt::format("column deletion_time: {} is before the start {}", *deleted, start)));
  }
  if (*deleted - start > kMaxTraceSpanDays * 86'400) {
    return tl::unexpected(row_error(fmt::format(
        "column deletion_time: the pod runs {} days (from {} to {}); a task may run at most {} "
        "days",
        (*deleted - start) / 86'400, start, *deleted, kMaxTraceSpanDays)));
  }
  return *deleted - start;
}

Result<Row> alibaba_row(const CsvRow& r, const PodColumns& c, size_t columns) {
  if (r.cells.size() != columns) {
    return tl::unexpected(
        row_error(fmt::format("expected {} columns, found {}", columns, r.cells.size())));
  }
  // Bounds: those of the task JSON (4,096 vCPUs, 64 TiB, 64 GPUs); `gpu_milli` is a share
  // of one GPU; times are seconds, any int64 (their spread is bounded after all rows).
  auto cpu = whole(c.cell(r, "cpu_milli"), "cpu_milli", 0, 4096 * 1000);
  if (!cpu) return tl::unexpected(cpu.error());
  auto mem = whole(c.cell(r, "memory_mib"), "memory_mib", 0, 65536 * kMibPerGib);
  if (!mem) return tl::unexpected(mem.error());
  auto ngpu = whole(c.cell(r, "num_gpu"), "num_gpu", 0, 64);
  if (!ngpu) return tl::unexpected(ngpu.error());
  auto gmilli = whole(c.cell(r, "gpu_milli"), "gpu_milli", 0, kMilliPerGpu);
  if (!gmilli) return tl::unexpected(gmilli.error());
  auto created = whole(c.cell(r, "creation_time"), "creation_time", 0, INT64_MAX);
  if (!created) return tl::unexpected(created.error());
  auto run_s = pod_run_s(r, c, *created);
  if (!run_s) return tl::unexpected(run_s.error());
  const WorkloadClass& wc = *ngpu > 0 ? *c.gpu_class : *c.cpu_class;
  Row row{*created, r.line, task_from_class(wc), std::nullopt};
  Task& t = row.task;
  t.resources.vcpus = std::max<int64_t>(1, (*cpu + 999) / 1000);
  t.resources.memory_mib = *mem;
  t.resources.gpu_milli = *ngpu == 0 ? 0 : (*ngpu == 1 ? *gmilli : *ngpu * kMilliPerGpu);
  t.resources.gpu_memory_mib = 0;
  t.duration = seconds(std::max<int64_t>(1, *run_s));
  t.preemptible = trim(c.cell(r, "qos")) == "BE" || wc.preemptible;
  return row;
}

Result<PodColumns> pod_columns(const CsvTable& table, const Spec& spec, const TraceOptions& o) {
  PodColumns c;
  for (size_t i = 0; i < table.header.size(); ++i) c.index[std::string(trim(table.header[i]))] = i;
  for (const char* need : {"cpu_milli", "memory_mib", "num_gpu", "gpu_milli"}) {
    if (!c.index.count(need)) {
      return make_error(ErrorCode::kInvalidInput,
                        fmt::format("missing column '{}' (not an Alibaba pods CSV?)", need),
                        table.file + ":1");
    }
  }
  for (const char* need : {"creation_time", "deletion_time"}) {
    if (!c.index.count(need)) {
      return make_error(
          ErrorCode::kInvalidInput,
          fmt::format(
              "missing column '{}': this file has resource requests only and cannot drive a "
              "time-based simulation",
              need),
          table.file + ":1");
    }
  }
  auto gpu = class_for(spec, o.gpu_class, "--gpu-class");
  if (!gpu) return tl::unexpected(gpu.error());
  auto cpu = class_for(spec, o.cpu_class, "--cpu-class");
  if (!cpu) return tl::unexpected(cpu.error());
  c.gpu_class = *gpu;
  c.cpu_class = *cpu;
  return c;
}

Result<std::vector<Row>> alibaba(const CsvTable& table, const Spec& spec, const TraceOptions& o,
                                 BadRows& bad) {
  auto cols = pod_columns(table, spec, o);
  if (!cols) return tl::unexpected(cols.error());
  std::vector<Row> rows;
  for (const CsvRow& r : table.rows) {
    auto row = alibaba_row(r, *cols, table.header.size());
    if (row)
      rows.push_back(std::move(*row));
    else if (!bad.bad(r.line, row.error().message))
      break;
  }
  if (bad.error) return tl::unexpected(*bad.error);
  return rows;
}

struct Line {
  int number;
  std::string_view text;
};

std::vector<Line> lines_of(std::string_view text) {
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

Result<std::vector<Row>> jsonl(std::string_view text, const std::string& file, const Spec& spec,
                               BadRows& bad) {
  auto lines = lines_of(without_utf8_bom(text));
  if (lines.empty()) return make_error(ErrorCode::kInvalidInput, "the trace is empty", file);
  std::vector<Row> rows;
  for (const auto& l : lines) {
    auto t = parse_task_json(std::string(l.text), spec, fmt::format("{}:{}", file, l.number));
    std::string why = t ? "" : t.error().message;
    if (t && t->submitted_at == TimePoint{})
      why = "field 'submitted_at' is required in a JSONL trace (RFC 3339)";
    else if (t && t->deadline && *t->deadline < t->submitted_at)
      why = "field 'deadline': is before 'submitted_at'";
    if (!why.empty()) {
      if (!bad.bad(l.number, why)) break;
      continue;
    }
    Row row{unix_ms(t->submitted_at), l.number, std::move(*t), std::nullopt};
    if (row.task.deadline) row.deadline_after_arrival = *row.task.deadline - row.task.submitted_at;
    row.task.deadline.reset();
    rows.push_back(std::move(row));
  }
  if (bad.error) return tl::unexpected(*bad.error);
  return rows;
}

// Rows earlier than one above them: counted (a log out of order is worth a warning), then
// sorted, stably (rows at the same time keep their file order).
void put_in_time_order(std::vector<Row>& rows, const std::string& file, const TimeField& f,
                       std::vector<std::string>& warnings) {
  int64_t early = 0;
  int first_early = 0;
  for (size_t i = 1, latest = 0; i < rows.size(); ++i) {
    if (rows[i].at < rows[latest].at) {
      if (early++ == 0) first_early = rows[i].line;
    } else {
      latest = i;
    }
  }
  if (early > 0 && f.logged_in_order) {
    warnings.push_back(fmt::format(
        "{}: {} of {} rows are earlier than a row above them (the first at line {}); sorted by {}",
        file, early, rows.size(), first_early, f.name));
  }
  std::stable_sort(rows.begin(), rows.end(),
                   [](const Row& a, const Row& b) { return a.at < b.at; });
}

// The arrivals' spread, on rows in time order. The error names the row farther from the
// (lower) median: one typo (a year 9999, a stray 10^18) is an outlier at either end; of
// two rows, the later is taken for the typo.
std::optional<Error> check_span(const std::vector<Row>& rows, const std::string& file,
                                const TimeField& f) {
  const Row& first = rows.front();
  const Row& last = rows.back();
  const int64_t units_per_day = kMsPerDay / f.ms_per_unit;
  // Times are within the year 0000..9999 (ms) or non-negative (s): no difference wraps.
  if (last.at - first.at <= kMaxTraceSpanDays * units_per_day) return std::nullopt;
  int64_t median = rows[(rows.size() - 1) / 2].at;
  bool last_is_odd = last.at - median >= median - first.at;
  const Row& odd = last_is_odd ? last : first;
  const Row& other = last_is_odd ? first : last;
  return Error{ErrorCode::kInvalidInput,
               fmt::format("column {}: {} is {} days {} the {} ({} at line {}); a trace may "
                           "span at most {} days",
                           f.name, f.shown(odd.at), (last.at - first.at) / units_per_day,
                           last_is_odd ? "after" : "before", last_is_odd ? "earliest" : "latest",
                           f.shown(other.at), other.line, kMaxTraceSpanDays),
               fmt::format("{}:{}", file, odd.line)};
}

Result<Workload> arrange(std::vector<Row> rows, const std::string& file, const TimeField& f) {
  if (rows.empty())
    return make_error(ErrorCode::kInvalidInput, "the trace has no usable rows", file);
  Workload w;
  put_in_time_order(rows, file, f, w.warnings);
  if (auto e = check_span(rows, file, f)) return tl::unexpected(*e);
  w.arrivals.reserve(rows.size());
  const int64_t origin = rows.front().at;
  for (auto& r : rows) {
    w.arrivals.push_back({milliseconds((r.at - origin) * f.ms_per_unit), std::move(r.task),
                          r.deadline_after_arrival});
  }
  w.span = w.arrivals.back().at;
  return w;
}

}  // namespace

Result<Workload> load_trace(const std::string& text, const std::string& file, TraceFormat format,
                            const Spec& spec, const TraceOptions& options) {
  BadRows bad{file, options.skip_bad_rows, 0, std::nullopt};
  Result<std::vector<Row>> rows = make_error(ErrorCode::kInternal, "no rows read");
  TimeField field{"submitted_at", 1, true};
  if (format == TraceFormat::kJsonl) {
    rows = jsonl(text, file, spec, bad);
  } else {
    auto table = parse_csv(text, file, {}, CsvShape::kRagged);
    if (!table) return tl::unexpected(table.error());
    if (format == TraceFormat::kAzureLlm) {
      field = {"TIMESTAMP", 1, true};
      rows = azure_llm(*table, spec, options, bad);
    } else {
      field = {"creation_time", 1000, false};
      rows = alibaba(*table, spec, options, bad);
    }
  }
  if (!rows) return tl::unexpected(rows.error());
  auto w = arrange(std::move(*rows), file, field);
  if (!w) return w;
  w->bad_rows_skipped = bad.skipped;
  w->description =
      fmt::format("{} ({} tasks{})", file, w->arrivals.size(),
                  bad.skipped ? fmt::format(", {} bad rows skipped", bad.skipped) : "");
  return w;
}

}  // namespace codefleet
