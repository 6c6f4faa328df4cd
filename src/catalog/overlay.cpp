#include <filesystem>
#include <fstream>

#include <fmt/format.h>

#include "catalog/import.h"

namespace codefleet {

namespace {

Result<void> write_atomically(const std::filesystem::path& path, const std::string& text) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  {
    std::ofstream out(tmp, std::ios::binary | std::ios::trunc);
    if (!out) return make_error(ErrorCode::kInternal, "cannot write file", tmp.string());
    out << text;
    out.flush();
    if (!out) return make_error(ErrorCode::kInternal, "write failed (disk full?)", tmp.string());
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec)
    return make_error(ErrorCode::kInternal, "cannot replace file: " + ec.message(), path.string());
  return {};
}

}  // namespace

Result<void> write_overlay(const std::string& dir, const Overlay& add) {
  namespace fs = std::filesystem;
  std::error_code ec;
  fs::create_directories(dir, ec);
  if (ec) return make_error(ErrorCode::kInternal, "cannot create directory: " + ec.message(), dir);
  Catalog existing;
  auto ok = existing.apply_overlay_dir(dir);
  if (!ok) return ok;
  Catalog& merged = existing;
  for (const auto& s : add.sizes) merged.upsert(s);
  for (const auto& p : add.prices) merged.upsert(p);
  for (const auto& a : add.availability) merged.upsert(a);
  std::vector<VmSize> sizes;
  for (const VmSize* s : merged.sizes()) sizes.push_back(*s);
  if (!sizes.empty()) {
    ok = write_atomically(fs::path(dir) / "vm-sizes.csv", sizes_to_csv(sizes));
    if (!ok) return ok;
  }
  if (!merged.all_prices().empty()) {
    ok = write_atomically(fs::path(dir) / "vm-prices.csv", prices_to_csv(merged.all_prices()));
    if (!ok) return ok;
  }
  if (!merged.all_availability().empty()) {
    ok = write_atomically(fs::path(dir) / "vm-availability.csv",
                          availability_to_csv(merged.all_availability()));
    if (!ok) return ok;
  }
  return {};
}

}  // namespace codefleet
