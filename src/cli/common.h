// Helpers shared by the CLI commands: loading the catalog with its overlays, reading
// files, printing errors in one consistent shape.
#pragma once

#include <ostream>
#include <string>
#include <vector>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "core/result.h"
#include "core/timezone.h"
#include "routing/fleet_model.h"
#include "spec/spec.h"
#include "spec/validate.h"
#include "workload/traces.h"

namespace codefleet::cli {

struct SpecAndCatalog {
  ParsedSpec parsed;
  Catalog catalog;
};
// Parses SPEC and loads the catalog; prints the errors and returns nullopt when either fails.
std::optional<SpecAndCatalog> load_spec_and_catalog(const CommonOptions& common,
                                                    const std::string& spec_file);

// Every command that consumes a spec runs `codefleet validate`'s rules first. With errors
// it prints the findings as `validate` does (on stderr) and returns false: the caller
// exits with kExitFindings. `--ignore-validation-errors` turns the refusal into a warning.
//
//   if (!passes_validation(common, *loaded, opts.spec_file)) return kExitFindings;
bool passes_validation(const CommonOptions& common, const SpecAndCatalog& loaded,
                       const std::string& spec_file);
// The findings as `codefleet validate` prints them, then the "N errors, M warnings" line.
void print_findings(std::ostream& out, const std::string& spec_file,
                    const std::vector<Finding>& findings);

// The fleet model of a loaded spec (prices with --price-fallback or the spec's fallback).
// Prints the error and returns nullopt when a size or price is missing.
std::optional<FleetModel> load_fleet_model(const CommonOptions& common,
                                           const SpecAndCatalog& loaded,
                                           const std::string& spec_file);

// A workload from a trace file (`trace` non-empty) or the synthetic generator. Prints the
// error and returns nullopt on bad input.
std::optional<Workload> load_workload(const Spec& spec, const FleetModel& model,
                                      const std::string& trace, const std::string& trace_format,
                                      const std::string& synthetic,
                                      const TraceOptions& trace_options,
                                      std::optional<uint64_t> seed);

// The default catalog plus every --catalog overlay. Errors are printed; nullopt then.
std::optional<Catalog> load_catalog(const CommonOptions& common);
Result<std::string> read_text_file(const std::string& path);
// "codefleet: error: <location>: <message>" on stderr.
void print_error(const Error& e);
void print_error(const std::string& message);
// A time zone by IANA name: built in, else the TZif file under /usr/share/zoneinfo.
Result<TimeZone> load_time_zone(const std::string& name);
// Today's date (UTC) as YYYY-MM-DD, from the wall clock: only the CLI reads it.
std::string today_utc();

// A trace's format from its first line, for `--trace FILE` without `--trace-format`:
// "azure-llm" (the TIMESTAMP,ContextTokens,GeneratedTokens header), "alibaba-pods" (a
// header with cpu_milli and num_gpu) or "jsonl" (a JSON object). An error naming the
// file and quoting the line when it is none of these, or the file is empty.
Result<std::string> detect_trace_format(const std::string& file);
// Settles `format` for `--trace FILE`: detected and said on stderr when not `given`, or
// checked against what the header says when it is (a CSV read as JSONL fails on every row).
// Prints the error and returns false when neither works.
bool settle_trace_format(const std::string& trace, std::string& format, bool given);

// The text a flag that takes "TEXT, @FILE or FILE" means (`route --task`): `@FILE` is
// always the file; a value starting with '{' or '[' is the text itself; anything else is
// a file path. `source` names where it came from, for errors ("task.json" or "--task").
struct FlagText {
  std::string text;
  std::string source;
};
Result<FlagText> text_or_file(const std::string& value, const std::string& flag);

}  // namespace codefleet::cli
