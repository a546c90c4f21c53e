// labgate-ca's log of everything it signed: one JSON line per certificate issued and per CRL
// signed (serial, CN, time, requester), appended and synced before the answer goes out, so that
// nothing signed goes unrecorded. The file is opened for appending only (O_APPEND, mode 0600);
// `chattr +a` makes the kernel keep it so (docs/SECURITY.md).
#pragma once

#include <cstdint>
#include <filesystem>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "labgate/common/result.hpp"
#include "server/terminals/signer_wire.hpp"

namespace lg::server::ca {

/// Who asked: the client certificate's CN and its address, or "labgate-ca <command>" for what
/// the CA machine issued itself (its TLS certificate, client identities).
struct Requester {
  std::string cn;
  std::string address;
};

/// The log line of an issued certificate: {"time","kind":"certificate","serial","cn","usage",
/// "hosts","not_before","not_after","key","requester","address"} (no newline).
std::string certificate_line(const terminals::Issued& c, const terminals::wire::IssueRequest& r, const Requester& who,
                             int64_t now_ms);

/// The log line of a signed CRL: {"time","kind":"crl","number","serials","requester","address"}.
std::string crl_line(uint64_t number, const std::vector<uint64_t>& serials, const Requester& who, int64_t now_ms);

class IssueLog {
 public:
  /// Opens (creating, mode 0600) path for appending; refuses one others may read or write.
  static Result<std::unique_ptr<IssueLog>> open(const std::filesystem::path& path);
  ~IssueLog();
  IssueLog(const IssueLog&) = delete;
  IssueLog& operator=(const IssueLog&) = delete;

  /// Appends line and a newline in one write and syncs it to disk. Thread-safe.
  Status append(const std::string& line);
  const std::filesystem::path& path() const { return path_; }

 private:
  IssueLog(std::filesystem::path p, int fd) : path_(std::move(p)), fd_(fd) {}
  std::filesystem::path path_;
  int fd_ = -1;
  std::mutex m_;
};

}  // namespace lg::server::ca
