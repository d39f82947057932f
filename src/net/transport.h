// Attested, authenticated connections between validators, on Asio.
//
// The node with the lower id dials, the higher one accepts. Every connection is mutual RA-TLS
// (TLS 1.3, evidence appraised in the handshake, fresh evidence bound to the session's
// exporter), then a Hello in which each side signs the exporter, its validator id and a random
// instance id (new at every process start) with its long-term identity key, so each connection
// is bound to exactly one validator. Clones: a newer instance of a validator replaces an older
// one (a restart); an older instance that connects again after that means two processes hold
// the identity, and the validator is banned (on_clone). A peer that
// fails any of this is never spoken to. After that, frames are length-prefixed (u32
// big-endian, at most kFrameBytesMax). Sends to a peer that is down are queued, bounded (the
// oldest frames are dropped first: consensus tolerates loss and retransmits); lost connections
// are re-dialled with exponential backoff. Every method and callback runs on the io_context's
// thread.
#pragma once

#include <asio/io_context.hpp>
#include <functional>
#include <map>
#include <optional>
#include <memory>
#include <string>
#include <vector>

#include "net/ratls.h"

namespace supernet::net {

struct PeerAddress {
  uint32_t id = 0;
  std::string host;
  uint16_t port = 0;
};

struct TransportConfig {
  uint32_t self = 0;
  std::string listen_host = "127.0.0.1";
  uint16_t listen_port = 0;  // 0 picks a free port
  // Addresses of the validators with higher ids (this node dials them).
  std::vector<PeerAddress> dial;
  Config ratls;
  crypto::SecureBytes identity_secret;      // this node's Ed25519 identity key
  std::map<uint32_t, Bytes> identity_keys;  // every validator's identity public key
  // Called when two processes hold one validator's identity (a cloned node): one instance
  // came back after another had replaced it. The peer is already banned.
  std::function<void(uint32_t peer, const std::string& reason)> on_clone;
  size_t queue_frames_max = 4096;
  int64_t reconnect_ms_min = 50;
  int64_t reconnect_ms_max = 2000;
  int64_t handshake_timeout_ms = 10000;
  // Connections still attesting (not yet admitted peers), at most: when a new one would pass
  // it, the oldest is closed. Silent or slow connections cannot pile up file descriptors, and
  // a real peer's handshake (milliseconds) outruns a flood that evicts the oldest first.
  size_t attesting_max = 64;
  // Live sessions are attested again at this interval: a fresh nonce, fresh evidence over the
  // existing channel (bound to the session and the nonce), appraised against the policy in
  // force now. A peer whose evidence fails, or that does not answer within reattest_timeout_ms,
  // is disconnected (and its next handshake is appraised the same way). 0: never.
  int64_t reattest_ms = 60'000;
  int64_t reattest_timeout_ms = 10'000;
  // Each answer costs fresh evidence (a hardware quote): a peer that asks more often than this
  // is disconnected.
  int64_t reattest_answer_min_ms = 1'000;
};

// The last appraisal of a peer's evidence: at the handshake, or a later re-attestation.
struct Appraisal {
  int64_t unix_ms = 0;
  bool passed = false;
  std::string verdict;  // "passed", or which check failed
  uint64_t count = 0;   // appraisals of this peer so far
};

class Transport {
 public:
  using OnFrame = std::function<void(uint32_t from, Bytes frame)>;
  Transport(asio::io_context& io, TransportConfig cfg, OnFrame on_frame);
  ~Transport();
  Transport(const Transport&) = delete;
  Transport& operator=(const Transport&) = delete;

  Status start();
  void stop();
  // A frame over kFrameBytesMax is dropped (and logged); the link goes on.
  void send(uint32_t to, Bytes frame);
  void broadcast(const Bytes& frame);
  bool connected(uint32_t peer) const;
  std::optional<Appraisal> appraisal(uint32_t peer) const;
  // Closes the peer's connection and refuses it from now on (a misbehaving node).
  void ban(uint32_t peer);
  // Membership changes: a new validator (dialled when `dial` is given: this node has the lower
  // id), or one removed (its connection closed, its hello refused from now on).
  void add_peer(uint32_t id, Bytes identity_key, std::optional<PeerAddress> dial);
  void remove_peer(uint32_t id);
  // Replaces the clone callback (TransportConfig::on_clone).
  void set_on_clone(std::function<void(uint32_t peer, const std::string& reason)> cb);
  // Replaces the appraisal policy: for connections made from now on, and at once for the live
  // sessions, whose peers' latest fresh evidence is appraised again (a peer that no longer
  // passes is disconnected and its appraisal says why).
  void set_policy(const tee::Policy& policy);
  // New collateral (certificates, CRLs, TCB info): for connections made from now on, and at once
  // for the live sessions, whose peers' latest fresh evidence is verified and appraised again
  // (a peer that no longer passes is disconnected, its appraisal saying why).
  void set_collateral(tee::Collateral collateral);
  // The policy in force and the collateral peers are appraised with (on the io thread).
  const tee::Policy& policy() const;
  const tee::Collateral& collateral() const;
  uint16_t listen_port() const;

 private:
  struct Impl;
  std::shared_ptr<Impl> impl_;
};

}  // namespace supernet::net
