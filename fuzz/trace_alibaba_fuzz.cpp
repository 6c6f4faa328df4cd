// The trace format TraceFormat::kAlibabaPods, both ways (see trace_fuzz.h).
#include "fuzz/trace_fuzz.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  return codefleet::fuzz::load_trace_both_ways(data, size, codefleet::TraceFormat::kAlibabaPods);
}
