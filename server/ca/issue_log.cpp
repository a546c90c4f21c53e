#include "server/ca/issue_log.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <nlohmann/json.hpp>
#include <system_error>

#include "labgate/common/time.hpp"

namespace lg::server::ca {

using json = nlohmann::json;

std::string certificate_line(const terminals::Issued& c, const terminals::wire::IssueRequest& r, const Requester& who,
                             int64_t now_ms) {
  std::string key;
  if (auto k = crypto::PublicKey::from_pem(r.public_key); k) key = k->fingerprint();
  return json{{"time", time::format_utc(now_ms)},
              {"kind", "certificate"},
              {"serial", std::to_string(c.serial)},
              {"cn", r.cn},
              {"usage", pki::to_string(r.usage)},
              {"hosts", r.hosts},
              {"not_before", time::format_utc(c.not_before_ms)},
              {"not_after", time::format_utc(c.not_after_ms)},
              {"key", key},
              {"requester", who.cn},
              {"address", who.address}}
      .dump();
}

std::string crl_line(uint64_t number, const std::vector<uint64_t>& serials, const Requester& who, int64_t now_ms) {
  json list = json::array();
  for (auto s : serials) list.push_back(std::to_string(s));
  return json{{"time", time::format_utc(now_ms)},
              {"kind", "crl"},
              {"number", std::to_string(number)},
              {"serials", list},
              {"requester", who.cn},
              {"address", who.address}}
      .dump();
}

Result<std::unique_ptr<IssueLog>> IssueLog::open(const std::filesystem::path& path) {
  const int fd = ::open(path.c_str(), O_WRONLY | O_APPEND | O_CREAT | O_CLOEXEC, 0600);
  if (fd < 0) return Error::from(std::error_code(errno, std::generic_category()), "cannot open " + path.string());
  struct stat st {};
  if (::fstat(fd, &st) == 0 && (st.st_mode & 077) != 0) {
    ::close(fd);
    char mode[8];
    std::snprintf(mode, sizeof mode, "%04o", static_cast<unsigned>(st.st_mode & 0777));
    return Error::invalid(path.string() + ": the log of what the CA signed may be read or written by others (mode " +
                          mode + "); chmod 600 it");
  }
  return std::unique_ptr<IssueLog>(new IssueLog(path, fd));
}

IssueLog::~IssueLog() {
  if (fd_ >= 0) ::close(fd_);
}

Status IssueLog::append(const std::string& line) {
  const std::string whole = line + "\n";
  std::lock_guard lock(m_);
  const ssize_t n = ::write(fd_, whole.data(), whole.size());
  if (n != static_cast<ssize_t>(whole.size()))
    return Error::from(std::error_code(n < 0 ? errno : EIO, std::generic_category()),
                       "cannot append to " + path_.string());
  if (::fdatasync(fd_) != 0)
    return Error::from(std::error_code(errno, std::generic_category()), "cannot sync " + path_.string());
  return {};
}

}  // namespace lg::server::ca
