// The `az vm list-skus` importer, with the default catalog as what is already known.
#include "catalog/import.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace codefleet;
  (void)import_list_skus({"list-skus.json", fuzz::text(data, size)}, fuzz::default_catalog(),
                         "2026-11-27");
  return 0;
}
