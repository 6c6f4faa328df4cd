// Helpers shared by the CLI commands: loading the catalog with its overlays, reading
// files, printing errors in one consistent shape.
#pragma once

#include <string>

#include "catalog/catalog.h"
#include "cli/commands.h"
#include "core/result.h"
#include "core/timezone.h"
#include "spec/spec.h"

namespace codefleet::cli {

struct SpecAndCatalog {
  ParsedSpec parsed;
  Catalog catalog;
};
// Parses SPEC and loads the catalog; prints the errors and returns nullopt when either fails.
std::optional<SpecAndCatalog> load_spec_and_catalog(const CommonOptions& common,
                                                    const std::string& spec_file);

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

}  // namespace codefleet::cli
