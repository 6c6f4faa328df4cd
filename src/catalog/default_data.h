// The default catalog compiled into the binary (data/catalog/*.csv at build time),
// so `codefleet` works from any directory without a data path.
#pragma once

namespace codefleet {
extern const char* const kDefaultSizesCsv;
extern const char* const kDefaultPricesCsv;
}  // namespace codefleet
