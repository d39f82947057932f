#include "consensus/membership.h"

#include <gtest/gtest.h>

#include "consensus/chain.h"
#include "consensus/signer.h"
#include "crypto/hash.h"
#include "sim/sim_platform.h"

#include <functional>

namespace supernet::consensus {
namespace {

struct Members {
  std::vector<crypto::PrivateKey> keys;
  std::vector<crypto::Ed25519KeyPair> identities;
  Membership state;

  // Three validators, `members` members, `approvals` needed.
  Members(int members, uint32_t approvals) {
    std::vector<Validator> vals;
    for (NodeId i = 1; i <= 3; i++) {
      identities.push_back(crypto::ed25519_generate());
      vals.push_back({i, 1, crypto::ed25519_generate().public_key, identities.back().public_key, 0});
    }
    GovernanceRules rules;
    for (int m = 0; m < members; m++) {
      keys.push_back(crypto::PrivateKey::generate_ec(crypto::Curve::kP256));
      rules.members.push_back({"m" + std::to_string(m), crypto::sha256(keys.back().public_key().spki_der())});
    }
    rules.approvals = approvals;
    genesis = genesis_for_set(Protocol::kTeeBft, ValidatorSet(vals, 0), "governance", rules, "simulated policy");
    state = Membership(genesis, appraiser);
  }
  sim::SimPlatform platform{crypto::ed25519_generate()};
  std::shared_ptr<const EvidenceAppraiser> appraiser = sim::sim_appraiser(platform.public_key());
  ChainGenesis genesis;

  // A new tee-bft node: its checker's key, attested for its identity key.
  Change add_node(NodeId id) {
    Change c;
    c.kind = ChangeKind::kAddNode;
    c.node = id;
    c.weight = 2;
    c.identity_key = crypto::ed25519_generate().public_key;
    Checker checker(id);
    EXPECT_TRUE(checker.begin(genesis.encode(), appraiser).ok());
    c.vote_key = checker.public_key();
    c.issued_at = 1700000000;
    c.evidence = platform.evidence(*checker.admission_binding(c.identity_key, c.issued_at));
    c.peer = "127.0.0.1:7104";
    c.api = "127.0.0.1:8104";
    return c;
  }

  Bytes propose(int member, Change c, uint64_t nonce = 1) {
    GovernanceTx g;
    g.action = GovernanceTx::Action::kPropose;
    g.change = std::move(c);
    g.nonce = nonce;
    return make_governance_tx(g, keys[static_cast<size_t>(member)]);
  }
  Bytes approve(int member, ByteView proposal_tx) {
    GovernanceTx g;
    g.action = GovernanceTx::Action::kApprove;
    g.proposal = crypto::sha256(proposal_tx);
    return make_governance_tx(g, keys[static_cast<size_t>(member)]);
  }
  // check() then apply(), as the chain does.
  Status commit(ByteView tx, uint64_t height = 1) {
    SN_TRY(state.check(tx));
    EXPECT_TRUE(state.apply(tx, height));
    return ok_status();
  }
};

// tee-bft: a vote key that comes after the genesis needs evidence for it (issue 10, A).
TEST(Governance, AnAddedTeeBftNodeNeedsEvidenceForItsVoteKey) {
  Members m(1, 1);
  Change bare = m.add_node(4);
  bare.evidence.clear();
  auto s = m.state.check(m.propose(0, bare));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("without evidence"), std::string::npos) << s.error().message;
  Change other = m.add_node(4);
  other.vote_key = crypto::ed25519_generate().public_key;  // evidence made for another key
  s = m.state.check(m.propose(0, other));
  ASSERT_FALSE(s.ok());
  EXPECT_NE(s.error().message.find("does not bind"), std::string::npos) << s.error().message;
  EXPECT_TRUE(m.commit(m.propose(0, m.add_node(4))).ok());
  EXPECT_EQ(m.state.set().size(), 4u);
}

TEST(Governance, TransactionsRoundTrip) {
  Members m(1, 1);
  Change c = m.add_node(4);
  c.measurements = {"ab", "cd"};
  c.note = "a fourth hospital";
  Bytes tx = m.propose(0, c, 77);
  auto back = GovernanceTx::decode(tx);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->encode(), tx);
  EXPECT_EQ(back->change.note, "a fourth hospital");
  EXPECT_EQ(back->nonce, 77u);
  for (size_t cut = 0; cut < tx.size(); cut += 7) EXPECT_FALSE(GovernanceTx::decode(ByteView(tx).subspan(0, cut)).ok());
}

TEST(Governance, ProposalCarriedOutAtTheThreshold) {
  Members m(3, 2);
  Bytes p = m.propose(0, m.add_node(4));
  ASSERT_TRUE(m.commit(p, 5).ok());
  EXPECT_EQ(m.state.set().size(), 3u);  // one approval of two
  EXPECT_EQ(m.state.set().epoch(), 0u);
  // The proposer cannot approve twice; another member can.
  EXPECT_EQ(m.state.check(m.approve(0, p)).error().code, "governance.repeat");
  ASSERT_TRUE(m.commit(m.approve(1, p), 6).ok());
  ASSERT_EQ(m.state.set().size(), 4u);
  EXPECT_EQ(m.state.set().epoch(), 1u);
  EXPECT_EQ(m.state.set().find(4)->weight, 2u);
  EXPECT_EQ(m.state.set().total_weight(), 5u);
  const auto& ps = m.state.proposals().at(to_string(crypto::sha256(p)));
  EXPECT_EQ(ps.status, ProposalState::Status::kApplied);
  EXPECT_EQ(ps.decided_at, 6u);
  // Decided: a late approval is refused, and so is the same proposal made again.
  EXPECT_EQ(m.state.check(m.approve(2, p)).error().code, "governance.closed");
  EXPECT_EQ(m.state.check(p).error().code, "governance.repeat");
}

TEST(Governance, StakeRemovalAndMeasurements) {
  Members m(1, 1);
  Change w;
  w.kind = ChangeKind::kSetWeight;
  w.node = 2;
  w.weight = 10;
  ASSERT_TRUE(m.commit(m.propose(0, w)).ok());
  EXPECT_EQ(m.state.set().find(2)->weight, 10u);
  Change r;
  r.kind = ChangeKind::kRemoveNode;
  r.node = 3;
  ASSERT_TRUE(m.commit(m.propose(0, r)).ok());
  EXPECT_EQ(m.state.set().find(3), nullptr);
  EXPECT_EQ(m.state.set().epoch(), 2u);
  Change meas;
  meas.kind = ChangeKind::kSetMeasurements;
  meas.measurements = {"00ff"};
  ASSERT_TRUE(m.commit(m.propose(0, meas)).ok());
  EXPECT_EQ(m.state.measurements(), std::vector<std::string>{"00ff"});
  EXPECT_EQ(m.state.set().epoch(), 2u);  // the validator set did not change
  // Invalid changes are refused up front.
  Change bad = meas;
  bad.measurements = {"XYZ"};
  EXPECT_EQ(m.state.check(m.propose(0, bad)).error().code, "governance.change");
  Change again = r;
  EXPECT_EQ(m.state.check(m.propose(0, again, 2)).error().code, "governance.change");  // 3 is gone
  EXPECT_EQ(m.state.check(m.propose(0, m.add_node(1))).error().code, "governance.change");  // 1 exists
}

// Issue 15 §4: members revoke by vote. A minimum TCB only merges upward per component; a
// revoked platform key is listed in the adjustments, leaves the trusted keys and cannot come
// back with a new node; malformed revocations are refused up front; the encodings round-trip.
TEST(Governance, RevocationsRaiseAMinimumTcbAndDistrustAPlatformKey) {
  Members m(1, 1);
  Change t;
  t.kind = ChangeKind::kSetMinTcb;
  t.platform = "sev-snp";
  t.min_tcb = {{"snp", 23}, {"microcode", 200}};
  Bytes tx = m.propose(0, t);
  auto back = GovernanceTx::decode(tx);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->encode(), tx);
  EXPECT_EQ(back->change.min_tcb, t.min_tcb);
  EXPECT_EQ(back->change.platform, "sev-snp");
  ASSERT_TRUE(m.commit(tx).ok());
  Change raise = t;
  raise.min_tcb = {{"snp", 25}};
  ASSERT_TRUE(m.commit(m.propose(0, raise, 2)).ok());
  std::map<std::string, uint64_t> want{{"microcode", 200}, {"snp", 25}};
  EXPECT_EQ(m.state.min_tcb().at("sev-snp"), want);
  EXPECT_EQ(m.state.adjustments().min_tcb.at("sev-snp"), want);
  EXPECT_EQ(m.state.set().epoch(), 0u);
  for (auto [platform, tcb] : std::vector<std::pair<std::string, std::map<std::string, uint64_t>>>{
           {"virtual", {{"snp", 1}}}, {"nosuch", {{"snp", 1}}}, {"sgx", {}}, {"tdx", {{"Bad!", 1}}}}) {
    Change bad = t;
    bad.platform = platform;
    bad.min_tcb = tcb;
    EXPECT_EQ(m.state.check(m.propose(0, bad, 3)).error().code, "governance.change") << platform;
  }
  Change many = t;
  for (int i = 0; i < 17; i++) many.min_tcb["c" + std::to_string(i)] = 1;
  EXPECT_FALSE(GovernanceTx::decode(m.propose(0, many, 3)).ok());  // over the bound: does not even decode

  std::string key(64, 'a');
  Change add = m.add_node(9);
  add.platform_key = key;
  Change revoke;
  revoke.kind = ChangeKind::kRevokePlatformKey;
  revoke.platform_key = key;
  Bytes rtx = m.propose(0, revoke, 4);
  ASSERT_TRUE(GovernanceTx::decode(rtx).ok());
  EXPECT_EQ(GovernanceTx::decode(rtx)->encode(), rtx);
  ASSERT_TRUE(m.commit(rtx).ok());
  EXPECT_EQ(m.state.revoked_platform_keys(), std::vector<std::string>{key});
  EXPECT_EQ(m.state.adjustments().revoked_platform_keys, std::vector<std::string>{key});
  auto refused = m.state.check(m.propose(0, add, 5));
  ASSERT_FALSE(refused.ok());
  EXPECT_NE(refused.error().message.find("revoked"), std::string::npos) << refused.error().message;
  Change bad_key = revoke;
  bad_key.platform_key = "XYZ";
  EXPECT_EQ(m.state.check(m.propose(0, bad_key, 6)).error().code, "governance.change");
  // A hardware machine revoked by its chip id (SEV-SNP CHIP_ID: 64 bytes).
  Change chip;
  chip.kind = ChangeKind::kRevokeChip;
  chip.platform_key = std::string(128, 'c');
  Bytes ctx = m.propose(0, chip, 8);
  ASSERT_TRUE(GovernanceTx::decode(ctx).ok());
  ASSERT_TRUE(m.commit(ctx).ok());
  EXPECT_EQ(m.state.revoked_chip_ids(), std::vector<std::string>{chip.platform_key});
  EXPECT_EQ(m.state.adjustments().revoked_chip_ids, std::vector<std::string>{chip.platform_key});
  Change bad_chip = chip;
  bad_chip.platform_key = "00";
  EXPECT_EQ(m.state.check(m.propose(0, bad_chip, 9)).error().code, "governance.change");
  // An unknown kind does not decode.
  Bytes unknown = m.propose(0, revoke, 7);
  unknown[5] = 10;  // after "SNGV" and the action: the change's kind
  EXPECT_FALSE(GovernanceTx::decode(unknown).ok());
}

TEST(Governance, ReleasePoliciesAreSetReplacedAndRemovedByVote) {
  Members m(2, 2);
  Change p;
  p.kind = ChangeKind::kSetReleasePolicy;
  p.resource = "model:alpha";
  p.clients = {"m1"};
  p.measurements = {std::string(96, 'a')};
  p.packages = {std::string(64, 'b')};
  Bytes tx = m.propose(0, p, 1);
  auto back = GovernanceTx::decode(tx);
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(back->encode(), tx);
  EXPECT_EQ(back->change.resource, "model:alpha");
  EXPECT_EQ(back->change.clients, p.clients);
  EXPECT_EQ(back->change.packages, p.packages);
  ASSERT_TRUE(m.commit(tx).ok());
  EXPECT_TRUE(m.state.release_policies().empty());  // one approval of the two needed
  ASSERT_TRUE(m.commit(m.approve(1, tx)).ok());
  ASSERT_EQ(m.state.release_policies().count("model:alpha"), 1u);
  EXPECT_EQ(m.state.release_policies().at("model:alpha").clients, p.clients);
  EXPECT_TRUE(m.state.release_policies().at("model:alpha").attested());
  // Replaced as a whole, then removed by a policy that names no one.
  Change narrower = p;
  narrower.measurements.clear();
  narrower.packages.clear();
  Bytes n = m.propose(0, narrower, 3);
  ASSERT_TRUE(m.commit(n).ok());
  ASSERT_TRUE(m.commit(m.approve(1, n)).ok());
  EXPECT_FALSE(m.state.release_policies().at("model:alpha").attested());
  Change none;
  none.kind = ChangeKind::kSetReleasePolicy;
  none.resource = "model:alpha";
  Bytes r = m.propose(0, none, 5);
  ASSERT_TRUE(m.commit(r).ok());
  ASSERT_TRUE(m.commit(m.approve(1, r)).ok());
  EXPECT_TRUE(m.state.release_policies().empty());
  // Refused: an unregistered client, a bad resource name, a bad digest, repeats.
  for (auto mutate : std::vector<std::function<void(Change&)>>{
           [](Change& c) { c.clients = {"nobody"}; }, [](Change& c) { c.resource = "bad name"; }, [](Change& c) { c.resource.clear(); },
           [](Change& c) { c.packages = {"00"}; }, [](Change& c) { c.clients = {"m0", "m0"}; },
           [](Change& c) { c.measurements = {"NOTHEX"}; }}) {
    Change bad = p;
    mutate(bad);
    auto s = m.state.check(m.propose(0, bad, 7));
    ASSERT_FALSE(s.ok());
    EXPECT_EQ(s.error().code, "governance.change");
  }
  // A proactive refresh of the key: counted once carried out.
  Change refresh;
  refresh.kind = ChangeKind::kRefreshKey;
  Bytes f = m.propose(0, refresh, 9);
  ASSERT_TRUE(GovernanceTx::decode(f).ok());
  EXPECT_EQ(GovernanceTx::decode(f)->encode(), f);
  ASSERT_TRUE(m.commit(f).ok());
  EXPECT_EQ(m.state.key_refreshes(), 0u);
  ASSERT_TRUE(m.commit(m.approve(1, f)).ok());
  EXPECT_EQ(m.state.key_refreshes(), 1u);
  // Over the bounds: does not decode.
  Change many = p;
  for (size_t i = 0; i <= keys::kReleasePolicyEntriesMax; i++) many.packages.push_back(std::string(64, 'c'));
  EXPECT_FALSE(GovernanceTx::decode(m.propose(0, many, 8)).ok());
}

TEST(Governance, AProposalThatNoLongerFitsFails) {
  Members m(2, 2);
  Bytes first = m.propose(0, m.add_node(4), 1);
  Bytes second = m.propose(1, m.add_node(4), 2);  // the same node, proposed twice
  ASSERT_TRUE(m.commit(first).ok());
  ASSERT_TRUE(m.commit(second).ok());
  ASSERT_TRUE(m.commit(m.approve(1, first)).ok());
  ASSERT_EQ(m.state.set().size(), 4u);
  ASSERT_TRUE(m.commit(m.approve(0, second)).ok());
  const auto& ps = m.state.proposals().at(to_string(crypto::sha256(second)));
  EXPECT_EQ(ps.status, ProposalState::Status::kFailed);
  EXPECT_NE(ps.failure.find("already"), std::string::npos);
  EXPECT_EQ(m.state.set().size(), 4u);
}

TEST(Governance, OnlyMembersWithValidSignatures) {
  Members m(1, 1);
  Members outsiders(1, 1);
  Bytes forged = outsiders.propose(0, m.add_node(4));  // a key the genesis does not list
  EXPECT_EQ(m.state.check(forged).error().code, "governance.member");
  // A member's key, but the signed content altered (the node id).
  GovernanceTx g = GovernanceTx::decode(m.propose(0, m.add_node(4))).value();
  g.change.node = 5;
  EXPECT_EQ(m.state.check(g.encode()).error().code, "governance.signature");
  Members none(0, 0);
  EXPECT_EQ(none.state.check(forged).error().code, "governance.off");
  EXPECT_EQ(m.state.check(m.approve(0, as_bytes("no such proposal"))).error().code, "governance.unknown");
}

TEST(Evidence, SignedByAValidatorAndRecorded) {
  Members m(0, 0);
  Bytes tx = make_evidence_tx(1, 2, "voted for two blocks", {Bytes(10, 1), Bytes(10, 2)}, 9, m.identities[0].secret_key);
  auto e = Evidence::decode(tx);
  ASSERT_TRUE(e.ok());
  EXPECT_EQ(e->messages.size(), 2u);
  ASSERT_TRUE(m.state.check(tx).ok());
  EXPECT_FALSE(m.state.apply(tx, 12));  // recorded, but not a change receipt proofs need
  ASSERT_EQ(m.state.evidence().size(), 1u);
  EXPECT_EQ(m.state.evidence()[0].accused, 2u);
  EXPECT_EQ(m.state.evidence()[0].height, 12u);
  // Signed by someone else's identity key, or naming oneself: refused.
  Bytes wrong = make_evidence_tx(1, 2, "x", {}, 9, m.identities[1].secret_key);
  EXPECT_EQ(m.state.check(wrong).error().code, "evidence.signature");
  Bytes self = make_evidence_tx(1, 1, "x", {}, 9, m.identities[0].secret_key);
  EXPECT_EQ(m.state.check(self).error().code, "evidence.reporter");
  // Messages too large to fit are left out rather than making an oversized transaction.
  Bytes big = make_evidence_tx(1, 2, "x", {Bytes(60 * 1024, 0)}, 9, m.identities[0].secret_key);
  EXPECT_TRUE(Evidence::decode(big)->messages.empty());
}

}  // namespace
}  // namespace supernet::consensus
