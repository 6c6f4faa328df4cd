// Helpers shared by the catalog tests: reading fixtures and scratch directories.
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <fstream>
#include <sstream>
#include <string>

#include <unistd.h>

#include "catalog/import.h"

namespace codefleet::testing_support {

// The compiled-in default catalog, loaded once.
inline const Catalog& default_catalog() {
  static const Catalog cat = [] {
    auto c = Catalog::load_default();
    if (!c) ADD_FAILURE() << "load_default: " << c.error().describe();
    return c ? *c : Catalog{};
  }();
  return cat;
}

inline std::string read_text(const std::filesystem::path& p) {
  std::ifstream in(p, std::ios::binary);
  EXPECT_TRUE(in) << "cannot read " << p;
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

inline void write_text(const std::filesystem::path& p, const std::string& text) {
  std::ofstream out(p, std::ios::binary | std::ios::trunc);
  ASSERT_TRUE(out) << "cannot write " << p;
  out << text;
}

// A fixture file as an InputFile named by its file name (as a user would pass it).
inline InputFile fixture(const std::string& relative) {
  std::filesystem::path p = std::filesystem::path(CODEFLEET_FIXTURES) / relative;
  return InputFile{p.filename().string(), read_text(p)};
}

// A fresh, unique directory under the system temp dir, removed with everything in it.
class TempDir {
 public:
  TempDir() {
    static std::atomic<int> counter{0};
    auto now = std::chrono::steady_clock::now().time_since_epoch().count();
    path_ = std::filesystem::temp_directory_path() /
            ("codefleet-catalog-test-" + std::to_string(::getpid()) + "-" + std::to_string(now) +
             "-" + std::to_string(counter++));
    std::filesystem::create_directories(path_);
  }
  ~TempDir() {
    std::error_code ec;
    std::filesystem::remove_all(path_, ec);
  }
  TempDir(const TempDir&) = delete;
  TempDir& operator=(const TempDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::string str() const { return path_.string(); }

 private:
  std::filesystem::path path_;
};

}  // namespace codefleet::testing_support
