// The trace targets' one step: the input as a trace of `format`, read whole with rows that
// do not parse refused, then again with them skipped (--skip-bad-rows).
#pragma once

#include "fuzz/fuzz_support.h"
#include "workload/traces.h"

namespace codefleet::fuzz {

inline int load_trace_both_ways(const uint8_t* data, size_t size, TraceFormat format) {
  std::string input = text(data, size);
  for (bool skip : {false, true}) {
    TraceOptions options;
    options.skip_bad_rows = skip;
    (void)load_trace(input, "fuzz.trace", format, example_spec(), options);
  }
  return 0;
}

}  // namespace codefleet::fuzz
