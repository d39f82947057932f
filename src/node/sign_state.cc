#include "node/sign_state.h"

#include <filesystem>

#include "tee/seal.h"
#include "util/file.h"

namespace supernet::node {

namespace {

constexpr char kLabel[] = "bft-sign-state";
constexpr size_t kSignStateFileBytesMax = 2 * 1024 * 1024;  // a locked block is at most 768 KiB of transactions

Result<Bytes> seal_state(tee::Platform& platform, uint32_t node, uint64_t version, const consensus::SignState& s) {
  return tee::seal_bound(platform, kLabel, node, version, s.encode());
}

}  // namespace

Result<SignStateFile> open_sign_state(tee::Platform& platform, const std::string& path, uint32_t node, bool create) {
  SignStateFile f;
  f.state = std::make_shared<consensus::SignState>();
  f.version = std::make_shared<uint64_t>(0);
  std::error_code ec;
  if (!std::filesystem::exists(path, ec)) {
    if (!create) {
      return make_error("sign_state.missing", path + " is missing but this node's vote key exists: it may have signed before, " +
                                                  "so it will not sign again without its sign state (restore the file, or have " +
                                                  "the members remove the node and add it back with a new key)");
    }
    SN_ASSIGN(Bytes sealed, seal_state(platform, node, 1, *f.state));
    SN_TRY(write_file_atomic(path, sealed, 0600));
    *f.version = 1;
  } else {
    SN_ASSIGN(Bytes sealed, read_file(path, kSignStateFileBytesMax));
    auto plain = tee::unseal_bound(platform, kLabel, node, sealed);
    if (!plain.ok()) {
      return make_error(plain.error().code, path + " does not unseal (short, edited, another node's or another program's): " +
                                                plain.error().message);
    }
    SN_ASSIGN(consensus::SignState s, consensus::SignState::decode(plain->plaintext.view()));
    *f.state = std::move(s);
    *f.version = plain->version;
  }
  tee::Platform* p = &platform;
  auto version = f.version;
  f.persist = [p, path, node, version](const consensus::SignState& s) -> Status {
    SN_ASSIGN(Bytes sealed, seal_state(*p, node, *version + 1, s));
    SN_TRY(write_file_atomic(path, sealed, 0600));
    ++*version;  // each write is the next version of the node's promise
    return ok_status();
  };
  return f;
}

Status check_sign_state_against_ledger(const consensus::SignState& state, uint32_t node,
                                       const std::vector<consensus::CommittedBlock>& chain) {
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    const consensus::QuorumCert& qc = it->commit_qc;
    bool mine = false;
    for (const auto& v : qc.votes) mine = mine || v.voter == node;
    if (!mine) continue;
    // The latest certificate holding this node's precommit is the one that matters.
    auto signed_there = std::make_tuple(qc.height, qc.round, uint8_t{2});
    if (std::make_tuple(state.height, state.round, state.phase) < signed_there) {
      return make_error("sign_state.rolled_back",
                        "the sign state records height " + std::to_string(state.height) + " round " + std::to_string(state.round) +
                            ", but the ledger holds this node's precommit at height " + std::to_string(qc.height) + " round " +
                            std::to_string(qc.round) + ": the file was rolled back, so the node will not sign");
    }
    return ok_status();
  }
  return ok_status();
}

}  // namespace supernet::node
