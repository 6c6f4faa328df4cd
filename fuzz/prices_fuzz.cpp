// The Retail Prices API importer. A form feed splits the input into pages, so that the
// duplicate and NextPageLink handling across pages is reached too.
#include <vector>

#include "catalog/import.h"
#include "fuzz/fuzz_support.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using namespace codefleet;
  std::string text = fuzz::text(data, size);
  std::vector<InputFile> pages;
  size_t start = 0;
  while (true) {
    size_t ff = text.find('\f', start);
    pages.push_back({"page" + std::to_string(pages.size()) + ".json",
                     text.substr(start, ff == std::string::npos ? ff : ff - start)});
    if (ff == std::string::npos) break;
    start = ff + 1;
  }
  (void)import_retail_price_pages(pages, "2026-11-27");
  return 0;
}
