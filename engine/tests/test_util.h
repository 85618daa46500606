// Helpers for engine unit tests: a temporary state directory removed on destruction.
#pragma once

#include <cstdlib>
#include <filesystem>
#include <string>

namespace pgt::engine::testing {

class TempDir {
 public:
  TempDir() {
    std::string tmpl = (std::filesystem::temp_directory_path() / "pgt-engine-test-XXXXXX").string();
    path_ = mkdtemp(tmpl.data());
  }
  ~TempDir() { std::filesystem::remove_all(path_); }
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

}  // namespace pgt::engine::testing
