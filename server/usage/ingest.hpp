// MQTT ingest without sockets: validates evt and state payloads (size, topic, envelope, version,
// enrolled key, kid/topic/body terminal agreement, body), puts directory ids back for the
// pseudonyms the records name (the sync bundle's, docs/PROTOCOL.md), commits batches through
// usage::Service and builds the signed ack. screen_event may run on several threads; the rest
// on one (the ingest strand, or the commit thread of usage::Pipeline). Every rejection is logged (one warn line) and counted by reason.
#pragma once

#include <cstdint>
#include <map>
#include <mutex>
#include <optional>
#include <string>
#include <utility>
#include <unordered_map>
#include <variant>
#include <vector>

#include "labgate/common/crypto.hpp"
#include "labgate/common/protocol.hpp"
#include "server/core/metrics.hpp"
#include "server/terminals/store.hpp"
#include "server/usage/service.hpp"
#include "server/usage/store.hpp"

namespace lg::server::usage {

/// A message to publish.
struct Outgoing {
  std::string topic;
  std::string payload;
  int qos = 1;
  bool retained = false;
};

enum class Verdict {
  accepted,  ///< committed (evt) or applied/ignored-as-stale (state)
  rejected,  ///< bad payload: logged, counted under reason, nothing written
  failed,    ///< storage failure: nothing committed, no ack
};

struct EventResult {
  Verdict verdict = Verdict::rejected;
  std::string reason;  ///< rejection counter key ("bad_signature", "malformed", ...) or failure text
  std::string terminal;
  std::optional<IngestOutcome> outcome;
  std::optional<Outgoing> ack;  ///< set only after a successful commit with acked seq >= 1
};

struct StateResult {
  Verdict verdict = Verdict::rejected;
  std::string reason;
  std::string terminal;
  bool applied = false;       ///< false if ignored as a stale Last Will
  bool changed = false;       ///< online/boot/firmware/board changed (worth an INFO line)
  /// The terminal reported an acl_version below its current bundle, or no bundle was built yet for
  /// the device that holds the id (StateOutcome::bundle_stale: a new or replaced device).
  bool needs_resync = false;
};

class Ingest {
 public:
  /// site: our topic root; key: the server's signing key (kid "server"). metrics (optional, must
  /// outlive the Ingest): each evt commit and state update is timed into
  /// labgate_db_transaction_seconds, each message the database failed to take is counted in
  /// labgate_ingest_failures_total.
  Ingest(Service& service, Store& usage, terminals::Store& terminals, const crypto::PrivateKey& key, std::string site,
         metrics::ServerMetrics* metrics = nullptr);

  /// Handles one message on lg/v1/{site}/{terminal}/evt: screen_event, then commit_group of one.
  EventResult on_event(const std::string& topic, const std::string& payload, int64_t now_ms);

  /// A verified evt batch, ready to commit.
  struct Screened {
    std::string topic;
    proto::EventBatch batch;
    std::string ack_key;  ///< the link's down key when the batch came MACed (hs256): the ack is MACed too
  };
  /// Checks one evt message up to and including its signature and body, writing nothing but a
  /// rejection's count: the batch to commit, or the rejection (logged and counted). Thread-safe:
  /// the verify pool (usage::Pipeline) calls it from several threads.
  std::variant<Screened, EventResult> screen_event(const std::string& topic, const std::string& payload);
  /// Commits verified batches as one group (usage::Service::commit_group): one result per
  /// batch, in order. Acks are coalesced: a terminal's last committed batch in the group carries
  /// one ack for the highest seq acked, its earlier batches none. Called by one thread at a time.
  std::vector<EventResult> commit_group(const std::vector<Screened>& group, int64_t now_ms);
  /// Handles one message on lg/v1/{site}/{terminal}/state.
  StateResult on_state(const std::string& topic, const std::string& payload, int64_t now_ms);

 private:
  struct Authentic {
    proto::TopicParts topic;
    proto::Envelope env;
    Terminal terminal;
    std::string down_key;  ///< set when env was MACed: the key to answer with
  };
  /// The link keys of a terminal's enrolled key (derived once per key, then cached; thread-safe).
  Result<proto::LinkKeys> link_keys(const Terminal& t, const crypto::PublicKey& pub);
  /// Checks everything up to the signature; on rejection fills reason and detail.
  std::optional<Authentic> authenticate(const std::string& topic, const std::string& payload, proto::Channel channel,
                                        std::string& reason, std::string& detail);
  /// Authenticates and decodes one message of `channel` and checks that its body names the
  /// topic's terminal. On failure logs, counts, fills res (verdict, reason) and returns nullopt.
  template <typename Body, typename Res>
  std::optional<std::pair<Authentic, Body>> screen(const std::string& topic, const std::string& payload,
                                                   proto::Channel channel,
                                                   Result<Body> (*decode)(std::string_view), Res& res);
  /// Puts back, in every record's `user`, the directory id of each pseudonym the terminal's
  /// bundles issued (usage::Store::pseudonym_users, then cached: a pair never changes), so that
  /// everything past ingest sees directory ids as before. Fails only when the store does.
  Status attribute_pseudonyms(proto::EventBatch& batch);
  /// Logs and counts a rejection.
  void reject(const std::string& topic, const std::string& reason, const std::string& detail);

  Service& service_;
  Store& usage_;
  terminals::Store& terminals_;
  const crypto::PrivateKey& key_;
  std::string site_;
  metrics::Histogram* batch_seconds_ = nullptr;    // labgate_db_transaction_seconds{op="commit_batch"}
  metrics::Histogram* state_seconds_ = nullptr;    // labgate_db_transaction_seconds{op="apply_state"}
  metrics::Counter* failures_ = nullptr;           // labgate_ingest_failures_total
  std::mutex links_mutex_;
  std::unordered_map<std::string, proto::LinkKeys> links_;  // terminal id + '\n' + public key PEM -> keys
  std::mutex pseudonyms_mutex_;
  std::unordered_map<std::string, std::string> pseudonyms_;  // terminal id + '\n' + pseudonym -> user
};

/// Classifies an envelope that proto::open refused: "bad_version" when it is a JSON object whose
/// "v" is a number other than proto::kVersion, otherwise "malformed".
std::string classify_open_failure(const std::string& payload);

}  // namespace lg::server::usage
