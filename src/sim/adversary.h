// Byzantine hosts and network nemeses for the simulator: the attacks of issue 10, run as seeded
// strategies against the real replicas.
//
// The adversary is the host outside the TEE. It sees everything on the network (the simulator
// lets it read honest replicas' committed chains and rounds, which only makes it stronger),
// decides which links carry what until the heal, restarts its own node and hands the node's
// trusted checker any genesis or chain it likes, holds its node's identity key (as if the sealed
// key had leaked), and makes any signature with keys it generated itself. It can never sign
// with the platform key: evidence comes only from the node program, over the binding its checker
// computed. Honest nodes may be crashed and restarted by it, one after another, mid-round.
//
// Strategies:
//   rogue-rotation  (tee-bft) rotate the host's vote key to a key it holds, with no evidence,
//                   with genuine evidence made for another key, or with evidence from a checker
//                   begun on a fake genesis; if the rotation is ever admitted, equivocate with it
//                   as leader (issue 10, A).
//   fake-genesis    (tee-bft) restart the host's node with a checker begun on a fake validator
//                   set (every other key replaced by one the host holds) and rotate to it; if
//                   admitted, commit A at a group of honest nodes cut off from the rest, walk
//                   the checker with forged view changes into voting B in a later round, and
//                   commit B with the rest (issue 10, B).
//   lock-amnesia    (bft, no Byzantine node) let one honest node alone receive the precommits of
//                   a height, cut it off, and restart the nodes that locked one after the other
//                   (issue 10, C).
//   slow-host       (both) the host runs the real node program but drops a fifth of what its
//                   node sends and delays the rest by up to 400 ms, until the heal.
//   total-stop      (both) every node stops at once and restarts (at most f with their disk
//                   rolled back); tee-bft is then recovered by its members as `supernet recover`
//                   does: on the highest tip any node shows, keeping the block of the
//                   highest-round valid vote above it, with every node's new key (issue 13).
//   long-crash      (both) one honest node (within the fault budget) is down for 2.5 s, long
//                   enough for the failure detector's completeness check: every honest node up
//                   all that time must suspect it within 2 s (issue 13).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "consensus/membership.h"
#include "consensus/replica.h"

namespace supernet::sim {

class World {
 public:
  virtual ~World() = default;
  virtual consensus::TimeMs now() const = 0;
  virtual uint64_t rand(uint64_t lo, uint64_t hi) = 0;
  virtual void log(const std::string& s) = 0;
  virtual bool healed() const = 0;
  virtual const consensus::ChainGenesis& genesis() const = 0;
  virtual const std::shared_ptr<const consensus::EvidenceAppraiser>& appraiser() const = 0;
  // Evidence over what `checker` computed for its own rotation: the node program's one path to
  // its platform.
  virtual Bytes node_program_evidence(ByteView report_data) = 0;
  virtual const crypto::SecureBytes& identity_secret(consensus::NodeId host) const = 0;
  // Honest nodes that are up, in id order, and what they hold.
  virtual std::vector<consensus::NodeId> honest_up() const = 0;
  virtual const consensus::Replica& replica(consensus::NodeId id) const = 0;
  // The network: messages from `from` (the host's node) to `to`, and links the adversary cuts
  // (honoured until the heal).
  virtual void send(consensus::NodeId from, consensus::NodeId to, const consensus::Message& m) = 0;
  virtual void cut(consensus::NodeId a, consensus::NodeId b, bool cut) = 0;
  // Only precommits of `height` to `to` pass (another filter replaces it; height 0 removes it).
  virtual void precommits_only_to(uint64_t height, consensus::NodeId to) = 0;
  virtual void submit(consensus::NodeId to, Bytes tx) = 0;
  // The host takes its node over: its replica stops; messages to it reach the adversary.
  virtual void take_over(consensus::NodeId host) = 0;
  virtual void crash(consensus::NodeId id) = 0;
  virtual void restart(consensus::NodeId id) = 0;
  virtual bool is_up(consensus::NodeId id) const = 0;
  // Every node, and a restart of one keeping its disk (or rolling it back).
  virtual std::vector<consensus::NodeId> all_nodes() const = 0;
  virtual void restart_keeping_disk(consensus::NodeId id, bool roll_back) = 0;
  // What a node's disk shows of its last vote (tee-bft), the members' keys, and handing a node
  // a recovery as `supernet recover` does.
  virtual const std::optional<std::pair<consensus::Vote, consensus::Block>>& recorded_vote(consensus::NodeId id) const = 0;
  virtual const std::vector<crypto::PrivateKey>& member_keys() const = 0;
  virtual Status recover_node(consensus::NodeId id, const consensus::Replica::RecoveryRequest& request) = 0;
};

class Adversary {
 public:
  virtual ~Adversary() = default;
  virtual const char* name() const = 0;
  virtual void on_tick(World& w) = 0;
  // How far the attack got, for the run's summary and for tests that the attack was tried.
  virtual std::string outcome() const = 0;
  // A message an honest node sent to the node the adversary took over.
  virtual void on_message(World& w, consensus::NodeId from, const consensus::Message& m) = 0;
  // A message the host's own node sends to `to`: false drops it; *delay_ms adds to its delay.
  virtual bool own_message(World& w, consensus::NodeId to, consensus::TimeMs* delay_ms) { return true; }
};

// The strategies (see above). `host` is the Byzantine node (0 for lock-amnesia).
std::unique_ptr<Adversary> make_rogue_rotation(consensus::NodeId host, consensus::TimeMs start_ms, int variant, Bytes seed);
std::unique_ptr<Adversary> make_fake_genesis(consensus::NodeId host, consensus::TimeMs start_ms, Bytes seed);
std::unique_ptr<Adversary> make_lock_amnesia(consensus::TimeMs start_ms);
std::unique_ptr<Adversary> make_slow_host(consensus::NodeId host);
std::unique_ptr<Adversary> make_total_stop(consensus::TimeMs at_ms);
std::unique_ptr<Adversary> make_long_crash(consensus::TimeMs at_ms);

}  // namespace supernet::sim
