// The trace importers on hostile input: rows out of time order, numbers past int64,
// times that would stretch the simulation over centuries, byte order marks and quoted
// RFC 4180 fields; in the Azure, Alibaba and JSONL formats alike.
#include <fstream>
#include <sstream>

#include <gtest/gtest.h>

#include "sim/engine.h"
#include "spec/spec.h"
#include "workload/traces.h"

namespace codefleet {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::seconds;

const Spec& spec() {
  static const ParsedSpec parsed =
      *parse_spec_file(std::string(CODEFLEET_SOURCE_DIR) + "/examples/recommended.yaml");
  return parsed.spec;
}

std::string fixture(const std::string& rel) {
  std::ifstream in(std::string(CODEFLEET_FIXTURES) + "/" + rel);
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// A trace file, line by line.
class Trace {
 public:
  explicit Trace(TraceFormat format, std::string header = "") : format_(format) {
    if (!header.empty()) text_ = header + "\n";
  }
  Trace& row(const std::string& line) {
    text_ += line + "\n";
    return *this;
  }
  Trace& with_bom() {
    text_ = "\xEF\xBB\xBF" + text_;
    return *this;
  }
  Result<Workload> load(TraceOptions options = {}) const {
    return load_trace(text_, "t.csv", format_, spec(), options);
  }

 private:
  TraceFormat format_;
  std::string text_;
};

Trace azure() { return Trace(TraceFormat::kAzureLlm, "TIMESTAMP,ContextTokens,GeneratedTokens"); }
Trace pods() {
  return Trace(TraceFormat::kAlibabaPods,
               "name,cpu_milli,memory_mib,num_gpu,gpu_milli,gpu_spec,qos,pod_phase,creation_time,"
               "deletion_time,scheduled_time");
}
Trace jsonl() { return Trace(TraceFormat::kJsonl); }
std::string task_json(const std::string& submitted_at, const std::string& extra = "") {
  return R"({"class": "ci", "submitted_at": ")" + submitted_at + "\"" + extra + "}";
}

struct Refused {
  const char* name;
  Trace trace;
  const char* location;  // the whole of it: "t.csv:LINE"
  const char* message;   // a part of it
};

TEST(TraceImport, RefusesWhatWouldWrapOrHangNamingFileLineAndField) {
  std::vector<Refused> cases = {
      {"ContextTokensOf18Digits", azure().row("2023-11-16 18:15:46.6805900,999999999999999999,44"),
       "t.csv:2", "column ContextTokens: 999999999999999999 is out of range (0 to 100000000)"},
      {"GeneratedTokensPastInt64",
       azure()
           .row("2023-11-16 18:15:46.6805900,374,44")
           .row("2023-11-16 18:15:47,1,99999999999999999999"),
       "t.csv:3", "column GeneratedTokens: 99999999999999999999 is out of range"},
      {"NegativeTokens", azure().row("2023-11-16 18:15:46,-5,44"), "t.csv:2",
       "column ContextTokens: -5 is out of range"},
      {"AzureYear9999",
       azure().row("2023-11-16 18:15:46.6805900,374,44").row("9999-12-31 23:59:59.0000000,1,1"),
       "t.csv:3", "column TIMESTAMP: 9999-12-31T23:59:59Z is 2913219 days after the earliest"},
      {"AzureYear1970TypoAmongMany",
       azure()
           .row("2023-11-16 18:15:46,1,1")
           .row("1970-01-01 00:00:00,1,1")
           .row("2023-11-16 18:15:47,1,1")
           .row("2023-11-16 18:15:48,1,1"),
       "t.csv:3", "is 19677 days before the latest"},
      {"PodCreationTime1e18",
       pods()
           .row("pod-0,4000,8192,0,0,,LS,Running,1000,4600,1002")
           .row("pod-1,2000,4096,0,0,,BE,Running,1000000000000000000,1000000000000003600,"),
       "t.csv:3",
       "column creation_time: 1000000000000000000 is 11574074074074 days after the "
       "earliest (1000 at line 2); a trace may span at most 400 days"},
      {"PodDeletionTimeThatNeverComes",
       pods().row("pod-0,4000,8192,0,0,,LS,Running,1000,999999999999999999,1002"), "t.csv:2",
       "column deletion_time: the pod runs 11574074074074 days"},
      {"PodDeletionTimePastInt64",
       pods().row("pod-0,4000,8192,0,0,,LS,Running,1000,9999999999999999999,1002"), "t.csv:2",
       "column deletion_time: 9999999999999999999 is out of range"},
      {"PodMemoryPastInt64",
       pods().row("pod-0,4000,99999999999999999999,0,0,,LS,Running,1000,4600,1002"), "t.csv:2",
       "column memory_mib: 99999999999999999999 is out of range"},
      {"PodScheduledBeforeCreated", pods().row("pod-0,4000,8192,0,0,,LS,Running,1000,4600,900"),
       "t.csv:2", "column scheduled_time: 900 is before the creation_time 1000"},
      {"JsonlSpanOf500Days",
       jsonl().row(task_json("2026-01-05T10:00:00Z")).row(task_json("2027-05-20T10:00:00Z")),
       "t.csv:2", "column submitted_at: 2027-05-20T10:00:00Z is 500 days after the earliest"},
      {"JsonlDeadlineBeforeSubmission",
       jsonl().row(task_json("2026-01-05T10:00:00Z", R"(, "deadline": "2026-01-05T09:00:00Z")")),
       "t.csv:1", "field 'deadline': is before 'submitted_at'"},
      {"ThousandsSeparatorInANumber", azure().row("2023-11-16 18:15:46,\"1,000\",44"), "t.csv:2",
       "column ContextTokens: '1,000' is not a whole number"},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto w = c.trace.load();
    ASSERT_FALSE(w);
    EXPECT_EQ(w.error().location, c.location) << w.error().describe();
    EXPECT_NE(w.error().message.find(c.message), std::string::npos) << w.error().describe();
  }
}

TEST(TraceImport, ARequestTooLongForTheThroughputModelIsARowError) {
  TraceOptions slow;
  slow.llm.decode_tokens_per_s_per_gpu = 1;
  auto w = azure().row("2023-11-16 18:15:46,1,100000000").load(slow);
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().location, "t.csv:2");
  EXPECT_NE(w.error().message.find("take 37037 days on the throughput model; a task may run at "
                                   "most 400 days"),
            std::string::npos)
      << w.error().message;
}

TEST(TraceImport, BadRowsAreSkippedButATooLongSpanNeverIs) {
  TraceOptions skip;
  skip.skip_bad_rows = true;
  auto w = azure()
               .row("2023-11-16 18:15:46,1,1")
               .row("2023-11-16 18:15:47,999999999999999999,1")
               .row("2023-11-16 18:15:48,1,1")
               .load(skip);
  ASSERT_TRUE(w) << w.error().describe();
  EXPECT_EQ(w->arrivals.size(), 2u);
  EXPECT_EQ(w->bad_rows_skipped, 1);
  auto span = azure().row("2023-11-16 18:15:46,1,1").row("9999-01-01 00:00:00,1,1").load(skip);
  ASSERT_FALSE(span);
  EXPECT_EQ(span.error().location, "t.csv:3");
}

TEST(TraceImport, FourHundredDaysIsTheLongestSpan) {
  auto w = pods()
               .row("pod-0,1000,1024,0,0,,LS,Running,0,60,0")
               .row("pod-1,1000,1024,0,0,,LS,Running,34560000,34560060,34560000")
               .load();
  ASSERT_TRUE(w) << w.error().describe();
  EXPECT_EQ(w->span, hours(24 * kMaxTraceSpanDays));
  auto over = pods()
                  .row("pod-0,1000,1024,0,0,,LS,Running,0,60,0")
                  .row("pod-1,1000,1024,0,0,,LS,Running,34560001,34560060,34560001")
                  .load();
  EXPECT_FALSE(over);
}

// The reported case: the fixture's halves swapped put half its calls at t=0 and ran 140
// GPUs at the peak. Sorted, it is the same workload as the file in order.
TEST(TraceImport, AnAzureTraceOutOfOrderIsSortedWithAWarning) {
  std::string text = fixture("traces/azure-llm-conv-2023-first300.csv");
  std::vector<std::string> lines;
  std::stringstream in(text);
  for (std::string l; std::getline(in, l);) lines.push_back(l);
  ASSERT_EQ(lines.size(), 301u);
  Trace swapped(TraceFormat::kAzureLlm, lines[0]);
  for (size_t i = 151; i < 301; ++i) swapped.row(lines[i]);
  for (size_t i = 1; i < 151; ++i) swapped.row(lines[i]);
  auto in_order = load_trace(text, "t.csv", TraceFormat::kAzureLlm, spec(), {});
  auto sorted = swapped.load();
  ASSERT_TRUE(in_order && sorted);
  EXPECT_TRUE(in_order->warnings.empty());
  ASSERT_EQ(sorted->warnings.size(), 1u);
  EXPECT_EQ(sorted->warnings[0],
            "t.csv: 150 of 300 rows are earlier than a row above them (the first at line 152); "
            "sorted by TIMESTAMP");
  ASSERT_EQ(sorted->arrivals.size(), in_order->arrivals.size());
  for (size_t i = 0; i < sorted->arrivals.size(); ++i) {
    EXPECT_EQ(sorted->arrivals[i].at, in_order->arrivals[i].at) << i;
    EXPECT_EQ(sorted->arrivals[i].task.tokens->prompt, in_order->arrivals[i].task.tokens->prompt);
  }
  EXPECT_EQ(sorted->span, in_order->span);
}

TEST(TraceImport, JsonlOutOfOrderWarnsAndPodListsSortSilently) {
  auto j = jsonl()
               .row(task_json("2026-01-05T10:05:00Z"))
               .row(task_json("2026-01-05T10:00:00Z"))
               .row(task_json("2026-01-05T10:10:00Z"))
               .load();
  ASSERT_TRUE(j) << j.error().describe();
  ASSERT_EQ(j->warnings.size(), 1u);
  EXPECT_NE(j->warnings[0].find("1 of 3 rows are earlier than a row above them (the first at "
                                "line 2); sorted by submitted_at"),
            std::string::npos);
  EXPECT_EQ(j->arrivals[0].at, milliseconds(0));
  EXPECT_EQ(j->arrivals[1].at, std::chrono::minutes(5));
  // The published pod lists are ordered by pod name, not time: no warning.
  auto p = pods()
               .row("pod-0,1000,1024,0,0,,LS,Running,2000,2060,2000")
               .row("pod-1,1000,1024,0,0,,LS,Running,1000,1060,1000")
               .load();
  ASSERT_TRUE(p);
  EXPECT_TRUE(p->warnings.empty());
  EXPECT_EQ(p->arrivals[1].at, seconds(1000));
}

struct Accepted {
  const char* name;
  Trace trace;
  size_t tasks;
};

TEST(TraceImport, ByteOrderMarksAndQuotedFieldsAreRfc4180) {
  std::vector<Accepted> cases = {
      {"AzureWithBom", azure().with_bom().row("2023-11-16 18:15:46.6805900,374,44"), 1},
      {"PodsWithBom", pods().with_bom().row("pod-0,4000,8192,0,0,,LS,Running,1000,4600,1002"), 1},
      {"JsonlWithBom", jsonl().row(task_json("2026-01-05T10:00:00Z")).with_bom(), 1},
      {"AzureQuotedHeaderAndCells",
       Trace(TraceFormat::kAzureLlm, R"("TIMESTAMP","ContextTokens","GeneratedTokens")")
           .row(R"("2023-11-16 18:15:46.6805900","374",44)"),
       1},
      {"PodsQuotedCommasAndQuotes",
       pods()
           .row(R"("pod ""a"", 1,000",4000,8192,1,500,"V100|A100","BE",Running,1000,4600,1002)")
           .row("pod-1,2000,4096,0,0,,LS,Running,1200,2400,1201"),
       2},
  };
  for (const auto& c : cases) {
    SCOPED_TRACE(c.name);
    auto w = c.trace.load();
    ASSERT_TRUE(w) << w.error().describe();
    EXPECT_EQ(w->arrivals.size(), c.tasks);
    EXPECT_TRUE(w->warnings.empty());
  }
  auto quoted =
      pods()
          .row(R"("pod ""a"", 1,000",4000,8192,1,500,"V100|A100","BE",Running,1000,4600,1002)")
          .load();
  ASSERT_TRUE(quoted);
  EXPECT_EQ(quoted->arrivals[0].task.resources.gpu_milli, 500);
  EXPECT_TRUE(quoted->arrivals[0].task.preemptible);
}

TEST(TraceImport, AWrongHeaderShowsBytesThatLookAlike) {
  auto w = Trace(TraceFormat::kAzureLlm, "TIMESTAMP,Context\xC2\xA0Tokens,GeneratedTokens")
               .row("2023-11-16 18:15:46,1,1")
               .load();
  ASSERT_FALSE(w);
  EXPECT_EQ(w.error().location, "t.csv:1");
  EXPECT_NE(w.error().message.find("header is 'TIMESTAMP,Context\\xC2\\xA0Tokens,"),
            std::string::npos)
      << w.error().message;
}

// A JSONL deadline is absolute; the simulation replays the trace from another date. The
// deadline keeps its distance from the arrival.
TEST(TraceImport, AJsonlDeadlineMovesWithItsArrival) {
  auto w = jsonl()
               .row(task_json("2025-03-01T10:00:00Z",
                              R"(, "duration_s": 600, "deadline": "2025-03-01T10:01:00Z")"))
               .row(task_json("2025-03-01T11:00:00Z",
                              R"(, "duration_s": 600, "deadline": "2025-03-03T11:00:00Z")"))
               .load();
  ASSERT_TRUE(w) << w.error().describe();
  ASSERT_EQ(w->arrivals.size(), 2u);
  EXPECT_EQ(w->arrivals[0].deadline_after_arrival, std::chrono::minutes(1));
  EXPECT_EQ(w->arrivals[1].deadline_after_arrival, hours(48));
  EXPECT_FALSE(w->arrivals[0].task.deadline);
  auto parsed = parse_spec_file(std::string(CODEFLEET_SOURCE_DIR) + "/examples/recommended.yaml");
  ASSERT_TRUE(parsed);
  auto catalog = Catalog::load_default();
  auto model = build_fleet_model(parsed->spec, *catalog, {});
  ASSERT_TRUE(model);
  model->spec = &parsed->spec;
  auto oracle = make_strategy("oracle", *model);
  ASSERT_TRUE(oracle);
  SimResult r = simulate(*model, *w, **oracle, {});
  EXPECT_EQ(r.completed, 2);
  EXPECT_EQ(r.deadline_misses, 1);  // ten minutes' work due in one; the other has two days
}

TEST(TraceImport, ReshapeRefusesBillionsOfArrivalsAndKeepsDeadlines) {
  Workload w;
  Task t;
  w.arrivals.push_back({seconds(0), t, std::chrono::minutes(5)});
  w.arrivals.push_back({seconds(1), t, std::nullopt});
  w.span = seconds(1);
  auto ten_years = reshape(w, 3650, 1.0);  // 2 arrivals every 2 s: 315 million
  ASSERT_FALSE(ten_years);
  EXPECT_NE(ten_years.error().message.find("would make 315360000 arrivals of this workload's 2; "
                                           "at most 20000000 fit in a run"),
            std::string::npos)
      << ten_years.error().message;
  auto day = reshape(w, 1, 1.0);
  ASSERT_TRUE(day);
  EXPECT_EQ(day->arrivals.size(), 86'400u);
  for (size_t i = 0; i < day->arrivals.size(); i += 2)
    ASSERT_EQ(day->arrivals[i].deadline_after_arrival, std::chrono::minutes(5)) << i;
}

}  // namespace
}  // namespace codefleet
