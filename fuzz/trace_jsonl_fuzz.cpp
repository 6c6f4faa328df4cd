// One trace format (TraceFormat::kJsonl) read whole, rows that do not parse first refused,
// then skipped (--skip-bad-rows).
#include "fuzz/fuzz_support.h"
#include "workload/traces.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace codefleet;
  std::string text = fuzz::text(data, size);
  for (bool skip : {false, true}) {
    TraceOptions options;
    options.skip_bad_rows = skip;
    (void)load_trace(text, "fuzz.trace", TraceFormat::kJsonl, fuzz::example_spec(), options);
  }
  return 0;
}
