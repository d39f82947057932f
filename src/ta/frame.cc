#include "ta/frame.h"

#include <poll.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "ta/kv_store.h"
#include "util/codec.h"

namespace supernet::ta {

namespace {

enum : uint8_t { kTypeTask = 1, kTypeResult = 2, kTypeReady = 3, kTypeViolation = 4, kTypeKvCall = 5, kTypeKvAnswer = 6 };

void limits(Writer& w, const Limits& l) { w.u64(l.gas).u64(l.memory_bytes).u32(l.timeout_ms); }

Result<std::string> str(Reader& r, size_t max) {
  SN_ASSIGN(ByteView b, r.bytes(max));
  return to_string(b);
}

}  // namespace

const char* outcome_name(Outcome o) {
  switch (o) {
    case Outcome::kOk: return "ok";
    case Outcome::kScriptError: return "script error";
    case Outcome::kGas: return "gas";
    case Outcome::kMemory: return "memory";
    case Outcome::kTime: return "time";
    case Outcome::kForbiddenCall: return "forbidden call";
    case Outcome::kCrashed: return "crashed";
    case Outcome::kBadTask: return "bad task";
  }
  return "unknown";
}

Bytes encode_message(const Message& m) {
  Writer w;
  if (const auto* t = std::get_if<Task>(&m)) {
    w.u8(kTypeTask).u64(t->id).u8(static_cast<uint8_t>(t->kind));
    limits(w, t->limits);
    w.u64(t->seed).str(t->code).str(t->input).bytes(t->key.view()).bytes(t->nonce_seed);
    w.u32(static_cast<uint32_t>(t->models.size()));
    for (const auto& [name, text] : t->models) w.str(name).str(text);
  } else if (const auto* r = std::get_if<TaskResult>(&m)) {
    w.u8(kTypeResult).u64(r->id).u8(static_cast<uint8_t>(r->outcome)).str(r->output).str(r->message);
    w.u64(r->gas_used).u64(r->peak_memory).u64(r->micros).u32(static_cast<uint32_t>(r->syscall));
    w.u32(static_cast<uint32_t>(r->log.size()));
    for (const auto& line : r->log) w.str(line);
  } else if (const auto* ready = std::get_if<Ready>(&m)) {
    w.u8(kTypeReady).u8(ready->namespaces ? 1 : 0);
  } else if (const auto* v = std::get_if<Violation>(&m)) {
    w.u8(kTypeViolation).u32(static_cast<uint32_t>(v->syscall));
  } else if (const auto* c = std::get_if<KvCall>(&m)) {
    w.u8(kTypeKvCall).u8(static_cast<uint8_t>(c->op)).bytes(c->index).bytes(c->blob);
  } else {
    const auto& a = std::get<KvAnswer>(m);
    w.u8(kTypeKvAnswer).u8(a.ok ? 1 : 0).u8(a.found ? 1 : 0).bytes(a.blob).str(a.error);
  }
  return w.take();
}

Result<Message> decode_message(ByteView payload) {
  Reader r(payload);
  SN_ASSIGN(uint8_t type, r.u8());
  switch (type) {
    case kTypeTask: {
      Task t;
      SN_ASSIGN(t.id, r.u64());
      SN_ASSIGN(uint8_t kind, r.u8());
      if (kind < 1 || kind > 5) return make_error("ta.frame", "unknown task kind " + std::to_string(kind));
      t.kind = static_cast<TaskKind>(kind);
      SN_ASSIGN(t.limits.gas, r.u64());
      SN_ASSIGN(t.limits.memory_bytes, r.u64());
      SN_ASSIGN(t.limits.timeout_ms, r.u32());
      if (t.limits.gas == 0 || t.limits.gas > kTaGasMax || t.limits.memory_bytes == 0 || t.limits.memory_bytes > kTaMemoryBytesMax ||
          t.limits.timeout_ms == 0 || t.limits.timeout_ms > kTaTimeoutMsMax) {
        return make_error("ta.frame", "task limits out of range");
      }
      SN_ASSIGN(t.seed, r.u64());
      SN_ASSIGN(t.code, str(r, kTaCodeBytesMax));
      SN_ASSIGN(t.input, str(r, kTaFrameBytesMax));
      SN_ASSIGN(ByteView key, r.bytes(kTaTenantKeyBytes));
      SN_ASSIGN(ByteView seed, r.bytes(kTaNonceSeedBytes));
      if (key.size() != seed.size() * 2 || (!key.empty() && key.size() != kTaTenantKeyBytes)) {
        return make_error("ta.frame", "a task's key and nonce seed come together, at their sizes");
      }
      t.key = crypto::SecureBytes(key);
      t.nonce_seed = to_bytes(seed);
      SN_ASSIGN(uint32_t models, r.u32());
      if (models > kTaModelsMax) return make_error("ta.frame", "more than " + std::to_string(kTaModelsMax) + " models in a task");
      for (uint32_t i = 0; i < models; i++) {
        SN_ASSIGN(std::string name, str(r, kTaModelNameBytesMax));
        if (name.empty()) return make_error("ta.frame", "a model has an empty name");
        SN_ASSIGN(std::string text, str(r, kTaFrameBytesMax));
        t.models.emplace_back(std::move(name), std::move(text));
      }
      SN_TRY(r.finish());
      return Message(std::move(t));
    }
    case kTypeResult: {
      TaskResult out;
      SN_ASSIGN(out.id, r.u64());
      SN_ASSIGN(uint8_t outcome, r.u8());
      if (outcome > static_cast<uint8_t>(Outcome::kBadTask)) return make_error("ta.frame", "unknown outcome " + std::to_string(outcome));
      out.outcome = static_cast<Outcome>(outcome);
      SN_ASSIGN(out.output, str(r, kTaFrameBytesMax));
      SN_ASSIGN(out.message, str(r, 64 * 1024));
      SN_ASSIGN(out.gas_used, r.u64());
      SN_ASSIGN(out.peak_memory, r.u64());
      SN_ASSIGN(out.micros, r.u64());
      SN_ASSIGN(uint32_t sc, r.u32());
      out.syscall = static_cast<int32_t>(sc);
      SN_ASSIGN(uint32_t lines, r.count(kTaLogLinesMax, 4));
      for (uint32_t i = 0; i < lines; i++) {
        SN_ASSIGN(std::string line, str(r, kTaLogLineBytesMax));
        out.log.push_back(std::move(line));
      }
      SN_TRY(r.finish());
      return Message(std::move(out));
    }
    case kTypeReady: {
      SN_ASSIGN(uint8_t ns, r.u8());
      if (ns > 1) return make_error("ta.frame", "bad namespaces flag");  // one encoding per message
      SN_TRY(r.finish());
      return Message(Ready{ns != 0});
    }
    case kTypeViolation: {
      SN_ASSIGN(uint32_t sc, r.u32());
      SN_TRY(r.finish());
      return Message(Violation{static_cast<int32_t>(sc)});
    }
    case kTypeKvCall: {
      KvCall c;
      SN_ASSIGN(uint8_t op, r.u8());
      if (op < 1 || op > 3) return make_error("ta.frame", "unknown kv operation " + std::to_string(op));
      c.op = static_cast<KvOp>(op);
      SN_ASSIGN(ByteView index, r.bytes(kTaKvIndexBytes));
      if (index.size() != kTaKvIndexBytes) return make_error("ta.frame", "a kv index is " + std::to_string(kTaKvIndexBytes) + " bytes");
      SN_ASSIGN(ByteView blob, r.bytes(kTaKvBlobBytesMax));
      if (c.op != KvOp::kPut && !blob.empty()) return make_error("ta.frame", "only a kv put carries a value");
      c.index = to_bytes(index);
      c.blob = to_bytes(blob);
      SN_TRY(r.finish());
      return Message(std::move(c));
    }
    case kTypeKvAnswer: {
      KvAnswer a;
      SN_ASSIGN(uint8_t ok, r.u8());
      SN_ASSIGN(uint8_t found, r.u8());
      if (ok > 1 || found > 1) return make_error("ta.frame", "bad kv answer flags");
      a.ok = ok != 0;
      a.found = found != 0;
      SN_ASSIGN(ByteView blob, r.bytes(kTaKvBlobBytesMax));
      a.blob = to_bytes(blob);
      SN_ASSIGN(a.error, str(r, 4096));
      // One encoding per answer: a failure carries only its reason, a miss nothing.
      if ((!a.ok && (a.found || !a.blob.empty())) || (a.ok && !a.error.empty()) || (!a.found && !a.blob.empty())) {
        return make_error("ta.frame", "an inconsistent kv answer");
      }
      SN_TRY(r.finish());
      return Message(std::move(a));
    }
    default:
      return make_error("ta.frame", "unknown message type " + std::to_string(type));
  }
}

Status write_frame(int fd, ByteView payload) {
  if (payload.size() > kTaFrameBytesMax) return make_error("ta.frame", "a frame of " + std::to_string(payload.size()) + " bytes is over the bound");
  uint8_t head[4];
  uint32_t n = static_cast<uint32_t>(payload.size());
  for (int i = 0; i < 4; i++) head[i] = static_cast<uint8_t>(n >> (24 - 8 * i));
  auto put = [fd](const uint8_t* p, size_t len) -> Status {
    while (len > 0) {
      ssize_t w = ::write(fd, p, len);
      if (w < 0 && errno == EINTR) continue;
      if (w <= 0) return make_error("ta.io", std::string("cannot write to the worker pipe: ") + std::strerror(errno));
      p += w;
      len -= static_cast<size_t>(w);
    }
    return ok_status();
  };
  SN_TRY(put(head, 4));
  return put(payload.data(), payload.size());
}

namespace {

// Reads exactly `len` bytes; `wait` blocks until the descriptor is readable or the deadline.
template <typename Wait>
Status get(int fd, uint8_t* p, size_t len, bool at_start, Wait wait) {
  size_t done = 0;
  while (done < len) {
    SN_TRY(wait());
    ssize_t r = ::read(fd, p + done, len - done);
    if (r < 0 && (errno == EINTR || errno == EAGAIN)) continue;
    if (r < 0) return make_error("ta.io", std::string("cannot read the worker pipe: ") + std::strerror(errno));
    if (r == 0) {
      if (at_start && done == 0) return make_error("ta.eof", "the other end closed the pipe");
      return make_error("ta.frame", "the pipe closed inside a frame");
    }
    done += static_cast<size_t>(r);
  }
  return ok_status();
}

template <typename Wait>
Result<Bytes> read_with(int fd, size_t max, Wait wait) {
  uint8_t head[4];
  SN_TRY(get(fd, head, 4, true, wait));
  uint32_t n = (uint32_t{head[0]} << 24) | (uint32_t{head[1]} << 16) | (uint32_t{head[2]} << 8) | head[3];
  if (n > max) return make_error("ta.frame", "a frame of " + std::to_string(n) + " bytes is over the bound of " + std::to_string(max));
  Bytes out(n);
  SN_TRY(get(fd, out.data(), n, false, wait));
  return out;
}

}  // namespace

Result<Bytes> read_frame(int fd, size_t max) {
  return read_with(fd, max, [] { return ok_status(); });
}

Result<Bytes> read_frame_until(int fd, std::chrono::steady_clock::time_point deadline, size_t max) {
  return read_with(fd, max, [fd, deadline]() -> Status {
    for (;;) {
      auto left = std::chrono::duration_cast<std::chrono::milliseconds>(deadline - std::chrono::steady_clock::now()).count();
      if (left <= 0) return make_error("ta.timeout", "the worker did not answer in time");
      pollfd p{fd, POLLIN, 0};
      int r = ::poll(&p, 1, static_cast<int>(std::min<long long>(left, 1000)));
      if (r < 0 && errno == EINTR) continue;
      if (r < 0) return make_error("ta.io", std::string("cannot wait on the worker pipe: ") + std::strerror(errno));
      if (r > 0) return ok_status();
    }
  });
}

}  // namespace supernet::ta
