#include "access/records.hpp"

#include "labgate/common/crypto.hpp"

namespace lg::terminal {

proto::Record make_record(Clock& clock, proto::RecordBody body) {
  proto::Record r;
  r.id = crypto::uuid7();
  r.ts_ms = clock.now_ms();
  r.clock_synced = clock.synced();
  r.body = std::move(body);
  return r;
}

proto::Access access_record(const DecisionResult& d, const CardUid& card, const std::string& resource,
                            const std::string& output) {
  proto::Access a;
  a.card = card.str();
  a.user = d.user;
  a.resource = resource;
  a.output = output;
  a.decision = d.decision;
  a.reason = d.reason;
  a.mode = d.mode;
  a.acl_version = d.acl_version;
  a.booking = d.booking;
  return a;
}

}  // namespace lg::terminal
