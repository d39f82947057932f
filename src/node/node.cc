#include "node/node.h"

#include "util/log.h"

namespace supernet::node {

using consensus::Output;

Node::Node(asio::io_context& io, NodeOptions options)
    : io_(io),
      store_(std::move(options.store)),
      replica_(std::move(options.replica), std::move(options.signer)),
      transport_(io, std::move(options.transport),
                 [this](uint32_t from, Bytes frame) {
                   if (stopped_ || failed_) return;
                   auto m = consensus::decode_message(frame);
                   if (!m.ok()) {
                     log(LogLevel::kWarn, "node", "undecodable frame from node " + std::to_string(from) + ": " + m.error().message);
                     return;
                   }
                   Output out;
                   replica_.on_message(now(), from, *m, out);
                   process(out);
                 }),
      ticker_(io),
      started_(std::chrono::steady_clock::now()),
      tick_ms_(options.tick_ms) {}

Node::~Node() { stop(); }

consensus::TimeMs Node::now() const {
  return std::chrono::duration_cast<std::chrono::milliseconds>(std::chrono::steady_clock::now() - started_).count();
}

Status Node::start() {
  SN_ASSIGN(auto stored, store_->load_blocks());
  SN_TRY(replica_.restore(stored));
  for (const auto& cb : stored) committed_txs_ += cb.block.txs.size();
  SN_TRY(transport_.start());
  Output out;
  replica_.start(now(), out);
  process(out);
  schedule_tick();
  return ok_status();
}

void Node::stop() {
  if (stopped_) return;
  stopped_ = true;
  ticker_.cancel();
  transport_.stop();
}

bool Node::submit(Bytes tx) {
  if (stopped_ || failed_) return false;
  Output out;
  bool accepted = replica_.submit(std::move(tx), now(), out);
  process(out);
  return accepted;
}

void Node::schedule_tick() {
  ticker_.expires_after(std::chrono::milliseconds(tick_ms_));
  ticker_.async_wait([this](asio::error_code ec) {
    if (ec || stopped_) return;
    if (!failed_) {
      Output out;
      replica_.on_tick(now(), out);
      process(out);
    }
    schedule_tick();
  });
}

void Node::process(Output& out) {
  // Durability first: a block is on disk before any peer or client hears about our progress.
  for (const auto& cb : out.committed) {
    if (auto s = store_->append(cb); !s.ok()) {
      log(LogLevel::kError, "node", "cannot store block " + std::to_string(cb.block.header.height) + ": " + s.error().to_string() +
                                         "; this node stops taking part");
      failed_ = true;
      return;
    }
    committed_txs_ += cb.block.txs.size();
    if (on_commit_) on_commit_(cb);
  }
  for (const auto& m : out.misbehaviour) {
    log(LogLevel::kWarn, "node", "isolated node " + std::to_string(m.node) + ": " + m.reason);
    transport_.ban(m.node);  // its messages are already ignored; close its connection too
    isolations_.push_back({m.node, m.reason, now_unix()});
  }
  for (auto& s : out.sends) {
    Bytes frame = consensus::encode_message(s.message);
    if (s.to) {
      transport_.send(*s.to, std::move(frame));
    } else {
      transport_.broadcast(frame);
    }
  }
  out = Output{};
}

}  // namespace supernet::node
