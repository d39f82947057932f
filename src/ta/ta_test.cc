#include <gtest/gtest.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <filesystem>
#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <sstream>
#include <thread>

#include "fl/model.h"
#include "fl/model_file.h"
#include "fl/controller.h"
#include "fl/wire.h"
#include "crypto/secure.h"
#include "ta/frame.h"
#include "ta/kv_store.h"
#include "ta/lua_runtime.h"
#include "ta/selftest.h"
#include "ta/worker.h"
#include "util/codec.h"

namespace supernet::ta {
namespace {

using nlohmann::json;

TEST(TaFrame, MessagesRoundTripAndBadFramesAreRefused) {
  Task t;
  t.id = 7;
  t.kind = TaskKind::kLua;
  t.limits = {1234, 5u << 20, 250};
  t.seed = 99;
  t.code = "function handle(x) return x end";
  t.input = R"({"a":1})";
  auto back = decode_message(encode_message(t));
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  const Task& u = std::get<Task>(*back);
  EXPECT_EQ(u.id, 7u);
  EXPECT_EQ(u.kind, TaskKind::kLua);
  EXPECT_EQ(u.limits.gas, 1234u);
  EXPECT_EQ(u.limits.memory_bytes, 5u << 20);
  EXPECT_EQ(u.limits.timeout_ms, 250u);
  EXPECT_EQ(u.code, t.code);
  EXPECT_EQ(u.input, t.input);
  EXPECT_TRUE(u.models.empty());
  t.models = {{"a.json", "{}"}, {"b.json", "[1]"}};
  auto with_models = decode_message(encode_message(t));
  ASSERT_TRUE(with_models.ok()) << with_models.error().to_string();
  EXPECT_EQ(std::get<Task>(*with_models).models, t.models);
  Task crowded = t;
  crowded.models.assign(kTaModelsMax + 1, {"m", "{}"});
  EXPECT_FALSE(decode_message(encode_message(crowded)).ok());
  crowded.models = {{"", "{}"}};
  EXPECT_FALSE(decode_message(encode_message(crowded)).ok());
  t.models.clear();
  TaskResult r;
  r.id = 7;
  r.outcome = Outcome::kGas;
  r.message = "m";
  r.gas_used = 5;
  r.syscall = 257;
  r.log = {"a", "b"};
  auto rb = decode_message(encode_message(r));
  ASSERT_TRUE(rb.ok());
  EXPECT_EQ(std::get<TaskResult>(*rb).log, r.log);
  EXPECT_EQ(std::get<TaskResult>(*rb).syscall, 257);
  EXPECT_EQ(std::get<TaskResult>(*rb).outcome, Outcome::kGas);
  EXPECT_TRUE(std::get<Ready>(decode_message(encode_message(Ready{true})).value()).namespaces);
  EXPECT_FALSE(decode_message(Bytes{3, 4}).ok());  // found by fuzz_ta_frame: one encoding per message
  EXPECT_EQ(std::get<Violation>(decode_message(encode_message(Violation{59})).value()).syscall, 59);
  // Every truncation fails, as do unknown types, kinds, outcomes and limits out of range.
  Bytes enc = encode_message(t);
  for (size_t n = 0; n < enc.size(); n++) EXPECT_FALSE(decode_message(ByteView(enc.data(), n)).ok()) << n;
  EXPECT_FALSE(decode_message(Bytes{9}).ok());
  Bytes trailing = encode_message(Ready{});
  trailing.push_back(0);
  EXPECT_FALSE(decode_message(trailing).ok());
  Bytes bad_kind = enc;
  bad_kind[9] = 9;
  EXPECT_FALSE(decode_message(bad_kind).ok());
  for (Limits l : {Limits{0, 1, 1}, Limits{1, 0, 1}, Limits{1, 1, 0}, Limits{kTaGasMax + 1, 1, 1}, Limits{1, kTaMemoryBytesMax + 1, 1},
                   Limits{1, 1, kTaTimeoutMsMax + 1}}) {
    Task x = t;
    x.limits = l;
    EXPECT_EQ(decode_message(encode_message(x)).error().code, "ta.frame");
  }
  Bytes bad_outcome = encode_message(r);
  bad_outcome[9] = 42;
  EXPECT_FALSE(decode_message(bad_outcome).ok());
  TaskResult many;
  many.log.assign(kTaLogLinesMax + 1, "x");
  EXPECT_FALSE(decode_message(encode_message(many)).ok());
}

TEST(TaFrame, TaskKeysAndKvMessagesHaveOneEncodingEach) {
  Task t;
  t.id = 1;
  t.kind = TaskKind::kLua;
  t.key = crypto::SecureBytes(Bytes(kTaTenantKeyBytes, 7));
  t.nonce_seed = Bytes(kTaNonceSeedBytes, 8);
  auto back = decode_message(encode_message(t));
  ASSERT_TRUE(back.ok()) << back.error().to_string();
  EXPECT_EQ(to_bytes(std::get<Task>(*back).key.view()), Bytes(kTaTenantKeyBytes, 7));
  EXPECT_EQ(std::get<Task>(*back).nonce_seed, Bytes(kTaNonceSeedBytes, 8));
  Task no_seed = t;
  no_seed.nonce_seed.clear();
  EXPECT_FALSE(decode_message(encode_message(no_seed)).ok());
  Task short_key = t;
  short_key.key = crypto::SecureBytes(Bytes(16, 1));
  short_key.nonce_seed = Bytes(8, 1);
  EXPECT_FALSE(decode_message(encode_message(short_key)).ok());
  KvCall c{KvOp::kPut, Bytes(kTaKvIndexBytes, 1), Bytes{1, 2, 3}};
  auto cb = decode_message(encode_message(c));
  ASSERT_TRUE(cb.ok());
  EXPECT_EQ(std::get<KvCall>(*cb).blob, (Bytes{1, 2, 3}));
  EXPECT_FALSE(decode_message(encode_message(KvCall{KvOp::kGet, Bytes(kTaKvIndexBytes, 1), Bytes{1}})).ok());  // a get carries no value
  EXPECT_FALSE(decode_message(encode_message(KvCall{KvOp::kGet, Bytes(31, 1), {}})).ok());
  Bytes bad_op = encode_message(c);
  bad_op[1] = 4;
  EXPECT_FALSE(decode_message(bad_op).ok());
  KvAnswer found{true, true, Bytes{9}, ""};
  EXPECT_EQ(std::get<KvAnswer>(decode_message(encode_message(found)).value()).blob, Bytes{9});
  EXPECT_TRUE(decode_message(encode_message(KvAnswer{false, false, {}, "full"})).ok());
  EXPECT_FALSE(decode_message(encode_message(KvAnswer{false, true, {}, "x"})).ok());
  EXPECT_FALSE(decode_message(encode_message(KvAnswer{true, false, Bytes{1}, ""})).ok());
  EXPECT_FALSE(decode_message(encode_message(KvAnswer{true, true, Bytes{1}, "why"})).ok());
}

TEST(TaKv, EachTenantsKeyIndexesAndSealsItsOwnEntriesOnly) {
  Bytes root(32, 3);
  auto ka = tenant_key(root, "agent/a"), kb = tenant_key(root, "agent/b");
  EXPECT_NE(to_bytes(ka.view()), to_bytes(kb.view()));
  EXPECT_NE(to_bytes(tenant_key(Bytes(32, 4), "agent/a").view()), to_bytes(ka.view()));  // another node's root
  KvCipher a(ka.view(), Bytes(kTaNonceSeedBytes, 1)), b(kb.view(), Bytes(kTaNonceSeedBytes, 1));
  Bytes ia = a.index("balance");
  EXPECT_EQ(ia, a.index("balance"));
  EXPECT_NE(ia, b.index("balance"));
  Bytes blob = a.seal(ia, "balance", "42");
  EXPECT_NE(blob, a.seal(ia, "balance", "42"));  // a nonce per seal
  EXPECT_EQ(a.open(ia, "balance", blob).value(), "42");
  // What a host could try: another tenant's key, another index, an altered byte.
  EXPECT_EQ(b.open(ia, "balance", blob).error().code, "ta.kv_corrupt");
  EXPECT_EQ(a.open(a.index("other"), "other", blob).error().code, "ta.kv_corrupt");
  Bytes altered = blob;
  altered.back() ^= 1;
  EXPECT_EQ(a.open(ia, "balance", altered).error().code, "ta.kv_corrupt");
  EXPECT_EQ(a.open(ia, "balance", Bytes(5, 0)).error().code, "ta.kv_corrupt");
  // The node's store: bounded per tenant.
  MemoryKvStore store;
  for (size_t i = 0; i < kTaKvEntriesMax; i++) ASSERT_TRUE(store.put("t", a.index(std::to_string(i)), Bytes{1}).ok());
  EXPECT_EQ(store.put("t", a.index("one more"), Bytes{1}).error().code, "ta.kv_full");
  EXPECT_TRUE(store.put("t", a.index("0"), Bytes{2}).ok());  // overwriting is not a new entry
  EXPECT_TRUE(store.put("u", a.index("one more"), Bytes{1}).ok());
  EXPECT_EQ(store.put("t", Bytes(3, 0), Bytes{1}).error().code, "ta.kv_bad");
  EXPECT_EQ(store.put("u", a.index("big"), Bytes(kTaKvBlobBytesMax + 1, 0)).error().code, "ta.kv_bad");
  ASSERT_TRUE(store.erase("t", a.index("0")).ok());
  EXPECT_EQ(store.count("t").value(), kTaKvEntriesMax - 1);
}

TEST(TaFrame, PipeFramesAreBoundedAndTheNodesReadHasADeadline) {
  int p[2];
  ASSERT_EQ(pipe(p), 0);
  ASSERT_TRUE(write_frame(p[1], as_bytes(std::string("hello"))).ok());
  auto f = read_frame(p[0]);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(to_string(*f), "hello");
  // A length over the bound is refused before anything is allocated or read.
  uint8_t huge[4] = {0xff, 0xff, 0xff, 0xff};
  ASSERT_EQ(write(p[1], huge, 4), 4);
  EXPECT_EQ(read_frame(p[0]).error().code, "ta.frame");
  // Nothing comes: the deadline ends the wait.
  auto begun = std::chrono::steady_clock::now();
  EXPECT_EQ(read_frame_until(p[0], begun + std::chrono::milliseconds(50)).error().code, "ta.timeout");
  EXPECT_GE(std::chrono::steady_clock::now() - begun, std::chrono::milliseconds(45));
  // Half a frame, then the end: an error, not a hang.
  uint8_t part[6] = {0, 0, 0, 9, 'a', 'b'};
  ASSERT_EQ(write(p[1], part, 6), 6);
  close(p[1]);
  EXPECT_EQ(read_frame(p[0]).error().code, "ta.frame");
  EXPECT_EQ(read_frame(p[0]).error().code, "ta.eof");
  close(p[0]);
}

LuaRun lua(const std::string& src, const std::string& input = "null", Limits l = {}, uint64_t seed = 1) { return run_lua(src, input, l, seed); }

TEST(TaLua, JsonInAndOutAndHostFunctions) {
  auto r = lua("function handle(x) return {n = x.n + 1, s = x.s .. '!', a = x.a, none = x.z == json.null, f = 0.5} end",
               R"({"n": 41, "s": "hi", "a": [1, {"b": true}, null], "z": null})");
  ASSERT_EQ(r.outcome, Outcome::kOk) << r.message;
  json out = json::parse(r.output);
  EXPECT_EQ(out["n"], 42);
  EXPECT_EQ(out["s"], "hi!");
  EXPECT_EQ(out["a"], json::parse(R"([1, {"b": true}, null])"));
  EXPECT_EQ(out["none"], true);
  EXPECT_EQ(out["f"], 0.5);
  auto enc = lua("function handle() local t = json.decode('{\"k\":[1,2]}') return {text = json.encode({1, 2, 3}), k2 = t.k[2]} end");
  ASSERT_EQ(enc.outcome, Outcome::kOk) << enc.message;
  EXPECT_EQ(json::parse(enc.output)["text"], "[1,2,3]");
  EXPECT_EQ(json::parse(enc.output)["k2"], 2);
  EXPECT_EQ(lua("function handle() return json.decode('{bad') end").outcome, Outcome::kScriptError);
  EXPECT_EQ(lua("function handle() return 'x' end").output, "\"x\"");
  EXPECT_EQ(lua("function handle() return nil end").output, "null");
  EXPECT_EQ(lua("function handle() return {[1] = 'a', [2] = 'b'} end").output, R"(["a","b"])");
  EXPECT_EQ(lua("function handle() return {[1] = 'a', [3] = 'b'} end").output, R"({"1":"a","3":"b"})");
  // What JSON cannot hold is an error that says so.
  for (const char* bad : {"function handle() return handle end", "function handle() return 0/0 end",
                          "function handle() local t = {} t.self = t return t end", "function handle() return {[true] = 1} end"}) {
    auto b = lua(bad);
    EXPECT_EQ(b.outcome, Outcome::kScriptError) << bad;
    EXPECT_NE(b.message.find("JSON cannot hold"), std::string::npos) << b.message;
  }
  // log: bounded lines, each cut.
  auto logged = lua("function handle() for i = 1, 100 do log('line', i) end print(string.rep('y', 5000)) return 1 end");
  ASSERT_EQ(logged.outcome, Outcome::kOk);
  ASSERT_EQ(logged.log.size(), kTaLogLinesMax);
  EXPECT_EQ(logged.log[0], "line 1");
  // Text chunks load; errors carry the line.
  EXPECT_EQ(lua("function handle() return load('return 6 * 7')() end").output, "42");
  auto syntax = lua("\n\nfunction handle(\n");
  EXPECT_EQ(syntax.outcome, Outcome::kScriptError);
  EXPECT_NE(syntax.message.find("script:"), std::string::npos) << syntax.message;
  auto raised = lua("function handle()\n  error('boom')\nend");
  EXPECT_NE(raised.message.find("script:2: boom"), std::string::npos) << raised.message;
  EXPECT_NE(lua("x = 1").message.find("no function handle"), std::string::npos);
  EXPECT_NE(lua("function handle() return 1 end", "{not json").message.find("input"), std::string::npos);
  std::string deep(200, '[');
  deep += std::string(200, ']');
  EXPECT_NE(lua("function handle(x) return 1 end", deep).message.find("deeper"), std::string::npos);
}

// model.predict: the FL models' inference, natively, from a script; its cost is gas.
TEST(TaLua, ModelPredictRunsTheFlModels) {
  fl::ModelSpec spec;
  spec.kind = fl::ModelSpec::Kind::kMlp;
  spec.inputs = 2;
  spec.classes = 3;
  spec.hidden = {4};
  auto m = fl::Model::create(spec, 3).value();
  json params = m.params();
  std::vector<float> x = {0.5f, -1.0f}, probs;
  m.predict(x.data(), probs);
  json input = {{"model", {{"kind", "mlp"}, {"inputs", 2}, {"classes", 3}, {"hidden", {4}}, {"params", params}}}, {"rows", {{0.5, -1.0}, {0, 0}}}};
  auto r = lua("function handle(x) return model.predict(x.model, x.rows) end", input.dump());
  ASSERT_EQ(r.outcome, Outcome::kOk) << r.message;
  json out = json::parse(r.output);
  ASSERT_EQ(out.size(), 2u);
  ASSERT_EQ(out[0]["p"].size(), 3u);
  for (size_t k = 0; k < 3; k++) EXPECT_FLOAT_EQ(out[0]["p"][k].get<float>(), probs[k]);
  size_t best = static_cast<size_t>(std::max_element(probs.begin(), probs.end()) - probs.begin());
  EXPECT_EQ(out[0]["class"], best);
  // Bad models and rows are errors that say what is wrong; the cost is charged as gas.
  for (const char* bad : {R"({"kind": "tree", "inputs": 2, "classes": 2, "params": []})",
                          R"({"kind": "logistic", "inputs": 2, "classes": 2, "params": [1, 2]})",
                          R"({"kind": "mlp", "inputs": 2, "classes": 2, "hidden": [1, 2, 3], "params": []})"}) {
    json in = {{"model", json::parse(bad)}, {"rows", {{1, 2}}}};
    auto b = lua("function handle(x) return model.predict(x.model, x.rows) end", in.dump());
    EXPECT_EQ(b.outcome, Outcome::kScriptError) << bad;
    EXPECT_NE(b.message.find("model.predict"), std::string::npos) << b.message;
  }
  json wrong_row = input;
  wrong_row["rows"] = {{1, 2, 3}};
  EXPECT_NE(lua("function handle(x) return model.predict(x.model, x.rows) end", wrong_row.dump()).message.find("row 1"), std::string::npos);
  json many = input;
  many["rows"] = json::array();
  for (int i = 0; i < 20000; i++) many["rows"].push_back({1, 2});
  auto costly = lua("function handle(x) return #model.predict(x.model, x.rows) end", many.dump(), {10'000, 256u << 20, 1000});
  EXPECT_EQ(costly.outcome, Outcome::kGas) << costly.message;
}

WorkerOptions node_worker() {
  WorkerOptions o;
  o.program = SUPERNET_NODE_PATH;
  return o;
}

// model.predict(name, rows): a model file of the task, by name, its standardization applied.
TEST(TaLua, NamedModelsAreTheTasksModelFilesStandardized) {
  fl::ModelFile f;
  f.spec.kind = fl::ModelSpec::Kind::kLogistic;
  f.spec.inputs = 2;
  f.spec.classes = 3;
  auto m = fl::Model::create(f.spec, 5).value();
  f.params = m.params();
  f.model_sha256 = fl::model_hash(f.params);
  f.standardization.mean = {10, -2};
  f.standardization.stddev = {2, 4};
  ModelSet models{{"risk.json", f.to_json()}};
  std::vector<float> raw = {12, 2}, x = {1, 1}, probs;  // (12-10)/2, (2+2)/4
  m.predict(x.data(), probs);
  auto r = run_lua("function handle(x) return model.predict('risk.json', x) end", "[[12, 2], [10, -2]]", Limits{}, 0, true, nullptr, &models);
  ASSERT_EQ(r.outcome, Outcome::kOk) << r.message;
  json out = json::parse(r.output);
  ASSERT_EQ(out.size(), 2u);
  for (size_t k = 0; k < 3; k++) EXPECT_FLOAT_EQ(out[0]["p"][k].get<float>(), probs[k]);
  // Called twice in one task, parsed once; an unknown name and a broken file say so.
  auto twice = run_lua("function handle(x) model.predict('risk.json', x) return model.predict('risk.json', x)[1].class end", "[[12, 2]]", Limits{}, 0,
                       true, nullptr, &models);
  ASSERT_EQ(twice.outcome, Outcome::kOk) << twice.message;
  auto unknown = run_lua("function handle(x) return model.predict('other.json', x) end", "[[1, 2]]", Limits{}, 0, true, nullptr, &models);
  EXPECT_EQ(unknown.outcome, Outcome::kScriptError);
  EXPECT_NE(unknown.message.find("no model named 'other.json'"), std::string::npos) << unknown.message;
  ModelSet broken{{"risk.json", "{\"format\": \"supernet-model\"}"}};
  auto bad = run_lua("function handle(x) return model.predict('risk.json', x) end", "[[1, 2]]", Limits{}, 0, true, nullptr, &broken);
  EXPECT_EQ(bad.outcome, Outcome::kScriptError);
  EXPECT_NE(bad.message.find("model 'risk.json'"), std::string::npos) << bad.message;
  auto none = run_lua("function handle(x) return model.predict('risk.json', x) end", "[[1, 2]]", Limits{}, 0);
  EXPECT_EQ(none.outcome, Outcome::kScriptError);
  // The same through a real worker: the models travel in the task frame.
  auto w = Worker::start(node_worker());
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  Task t;
  t.id = 1;
  t.kind = TaskKind::kLua;
  t.code = "function handle(x) return model.predict('risk.json', x) end";
  t.input = "[[12, 2], [10, -2]]";
  t.models = models;
  auto wr = (*w)->run(t);
  ASSERT_EQ(wr.outcome, Outcome::kOk) << wr.message;
  EXPECT_EQ(wr.output, r.output);
}

// A plain map standing in for the worker's encrypting store.
class MapKv : public KvAccess {
 public:
  Result<std::optional<std::string>> get(std::string_view key) override {
    auto it = m.find(std::string(key));
    if (it == m.end()) return std::optional<std::string>();
    return std::optional<std::string>(it->second);
  }
  Status put(std::string_view key, std::string_view value) override {
    if (fail) return make_error("ta.kv_full", "full");
    m[std::string(key)] = value;
    return ok_status();
  }
  Status erase(std::string_view key) override {
    m.erase(std::string(key));
    return ok_status();
  }
  std::map<std::string, std::string> m;
  bool fail = false;
};

TEST(TaLua, TheTenantsStoreHoldsJsonValuesWithinItsBounds) {
  MapKv kv;
  auto run = [&](const std::string& src, uint64_t gas = 10'000'000) { return run_lua(src, "null", Limits{gas, 64u << 20, 1000}, 1, true, &kv); };
  auto r = run("function handle() kv.put('n', {a = 1, b = {'x'}}) kv.put('s', 'text') local n = kv.get('n') "
               "return {n.a, n.b[1], kv.get('s'), kv.get('missing') == nil} end");
  ASSERT_EQ(r.outcome, Outcome::kOk) << r.message;
  EXPECT_EQ(r.output, R"([1,"x","text",true])");
  EXPECT_EQ(kv.m["s"], "\"text\"");
  EXPECT_GE(r.gas_used, 4 * kKvCallGas);  // each call is charged
  r = run("function handle() kv.delete('s') kv.put('n', nil) return {kv.get('s') == nil, kv.get('n') == nil} end");
  EXPECT_EQ(r.output, "[true,true]") << r.message;
  EXPECT_TRUE(kv.m.empty());
  // Bounds, each named.
  EXPECT_NE(run("function handle() kv.put('', 1) end").message.find("a key is 1 to 256 bytes"), std::string::npos);
  EXPECT_NE(run("function handle() kv.get(string.rep('k', 257)) end").message.find("a key is 1 to 256 bytes"), std::string::npos);
  EXPECT_NE(run("function handle() kv.put('big', string.rep('v', 1048577)) end").message.find("at most 1048576 bytes"), std::string::npos);
  EXPECT_NE(run("function handle() kv.put('f', function() end) end").message.find("kv.put"), std::string::npos);
  r = run("function handle() for i = 1, 10001 do kv.get('k') end end", 1'000'000'000'000);
  EXPECT_NE(r.message.find("more than 10000 kv calls"), std::string::npos) << r.message;
  r = run("function handle() while true do kv.get('k') end end", 100'000);
  EXPECT_EQ(r.outcome, Outcome::kGas) << r.message;
  kv.fail = true;
  r = run("function handle() kv.put('x', 1) end");
  EXPECT_EQ(r.outcome, Outcome::kScriptError);
  EXPECT_NE(r.message.find("kv.put: full"), std::string::npos) << r.message;
  // A task without a store.
  r = run_lua("function handle() return kv.get('x') end", "null", Limits{}, 1, true, nullptr);
  EXPECT_NE(r.message.find("this task has no store"), std::string::npos) << r.message;
}

TEST(TaLua, GasMemoryAndSeedBoundTheScript) {
  const char* loop = "function handle(x) local s = 0 for i = 1, x.n do s = s + i end return s end";
  auto small = lua(loop, R"({"n": 1000})");
  auto big = lua(loop, R"({"n": 100000})");
  ASSERT_EQ(small.outcome, Outcome::kOk);
  ASSERT_EQ(big.outcome, Outcome::kOk);
  EXPECT_GT(big.gas_used, 50 * small.gas_used + 1) << small.gas_used << " " << big.gas_used;
  auto out_of_gas = lua(loop, R"({"n": 100000000})", {1'000'000, 64u << 20, 1000});
  EXPECT_EQ(out_of_gas.outcome, Outcome::kGas);
  EXPECT_EQ(out_of_gas.gas_used, 1'000'000u);
  auto hungry = lua("function handle() local t = {} for i = 1, 1e9 do t[i] = tostring(i) end end", "null", {kTaGasMax, 8u << 20, 1000});
  EXPECT_EQ(hungry.outcome, Outcome::kMemory);
  EXPECT_LE(hungry.peak_memory, 8u << 20);
  EXPECT_GT(hungry.peak_memory, 4u << 20);
  // math.random replays from the seed.
  const char* rnd = "function handle() return {math.random(1000000), math.random(1000000)} end";
  EXPECT_EQ(lua(rnd, "null", {}, 5).output, lua(rnd, "null", {}, 5).output);
  EXPECT_NE(lua(rnd, "null", {}, 5).output, lua(rnd, "null", {}, 6).output);
  // Finalizers would run unmetered (Lua turns hooks off for them): scripts cannot make any.
  auto gc = lua("function handle() setmetatable({}, {__gc = function() while true do end end}) return 1 end", "null", {1'000'000, 8u << 20, 1000});
  EXPECT_EQ(gc.outcome, Outcome::kScriptError);
  EXPECT_NE(gc.message.find("__gc"), std::string::npos) << gc.message;
  EXPECT_EQ(lua("function handle() local mt = {} local t = setmetatable({}, mt) mt.__gc = function() while true do end end t = nil "
                "collectgarbage() return 2 end").output,
            "2");
}

TEST(TaWorker, RunsTasksAndTheNodeEndsWhatOverrunsOrBreaksOut) {
  auto w = Worker::start(node_worker());
  ASSERT_TRUE(w.ok()) << w.error().to_string();
  Task ping;
  ping.id = 1;
  auto r = (*w)->run(ping);
  EXPECT_EQ(r.outcome, Outcome::kOk) << r.message;
  Task t;
  t.id = 2;
  t.kind = TaskKind::kLua;
  t.code = "function handle(x) return x.a * 2 end";
  t.input = R"({"a": 21})";
  r = (*w)->run(t);
  EXPECT_EQ(r.output, "42") << r.message;
  // The deadline: the node kills the worker.
  t.id = 3;
  t.code = "function handle() while true do end end";
  t.limits = {kTaGasMax, 16u << 20, 200};
  auto begun = std::chrono::steady_clock::now();
  r = (*w)->run(t);
  EXPECT_EQ(r.outcome, Outcome::kTime) << r.message;
  EXPECT_LT(std::chrono::steady_clock::now() - begun, std::chrono::seconds(3));
  EXPECT_FALSE((*w)->alive());
  EXPECT_EQ((*w)->run(ping).outcome, Outcome::kCrashed);
  // A forbidden call: the node learns which.
  auto w2 = Worker::start(node_worker());
  ASSERT_TRUE(w2.ok());
  Task open;
  open.id = 4;
  open.kind = TaskKind::kSelftest;
  open.code = "open";
  r = (*w2)->run(open);
  EXPECT_EQ(r.outcome, Outcome::kForbiddenCall) << r.message;
  EXPECT_EQ(r.syscall, SYS_openat);
  EXPECT_NE(r.message.find("openat"), std::string::npos) << r.message;
  // A program that is not there: a clear error.
  WorkerOptions missing;
  missing.program = "/nonexistent/supernet-node";
  EXPECT_EQ(Worker::start(missing).error().code, "ta.start");
}

// A party's local training in a worker gives the very update the same training gives in the
// node's process (and so the ledger's hashes do not depend on where it ran).
TEST(TaWorker, TrainsAndEvaluatesAnFlTaskExactlyAsInProcess) {
  fl::TrainTask task;
  task.spec.kind = fl::ModelSpec::Kind::kMlp;
  task.spec.inputs = 3;
  task.spec.classes = 2;
  task.spec.hidden = {4};
  task.params = fl::Model::create(task.spec, 7).value().params();
  task.options.epochs = 3;
  task.options.batch = 4;
  task.options.prox_mu = 0.1f;
  fl::PartyData party;
  for (fl::Dataset* d : {&party.train, &party.test}) {
    d->rows = d == &party.train ? 12 : 5;
    d->features = 3;
    d->classes = 2;
    for (size_t i = 0; i < d->rows; i++) {
      for (size_t f = 0; f < 3; f++) d->x.push_back(static_cast<float>((i * 7 + f * 3 + d->rows) % 11) / 5.0f - 1.0f);
      d->y.push_back(static_cast<int32_t>(i % 2));
    }
  }
  task.local_clip = 1.0;
  task.local_noise = 0.5;
  task.noise_seed = 42;
  auto here = fl::run_train_task(task, party.train);
  ASSERT_TRUE(here.ok());
  auto w = Worker::start(node_worker());
  ASSERT_TRUE(w.ok());
  Task t;
  t.id = 1;
  t.kind = TaskKind::kFlFit;
  // A fresh worker holds no data set: a task without one is refused, and the worker goes on.
  t.input = to_string(fl::encode_train_task(task));
  auto r = (*w)->run(t);
  EXPECT_EQ(r.outcome, Outcome::kBadTask);
  EXPECT_NE(r.message.find("holds none"), std::string::npos) << r.message;
  EXPECT_EQ((*w)->answered(), 0u);
  fl::TrainTask first = task;
  first.data = party;
  t.input = to_string(fl::encode_train_task(first));
  r = (*w)->run(t);
  ASSERT_EQ(r.outcome, Outcome::kOk) << r.message;
  EXPECT_EQ((*w)->answered(), 1u);
  auto there = fl::decode_train_result(as_bytes(r.output), task.params.size());
  ASSERT_TRUE(there.ok()) << there.error().to_string();
  EXPECT_EQ(there->params, here->params);
  EXPECT_EQ(there->metrics.loss, here->metrics.loss);
  EXPECT_NE(there->params, task.params);
  // Later tasks use the splits the worker kept.
  t.id = 2;
  t.input = to_string(fl::encode_train_task(task));
  r = (*w)->run(t);
  ASSERT_EQ(r.outcome, Outcome::kOk) << r.message;
  EXPECT_EQ(fl::decode_train_result(as_bytes(r.output), task.params.size())->params, here->params);
  fl::EvalTask eval;
  eval.spec = task.spec;
  eval.params = here->params;
  auto expected = fl::run_eval_task(eval, party.test);
  ASSERT_TRUE(expected.ok());
  t.id = 3;
  t.kind = TaskKind::kFlEval;
  t.input = to_string(fl::encode_eval_task(eval));
  r = (*w)->run(t);
  ASSERT_EQ(r.outcome, Outcome::kOk) << r.message;
  auto metrics = fl::decode_metrics(as_bytes(r.output));
  ASSERT_TRUE(metrics.ok());
  EXPECT_EQ(metrics->accuracy, expected->accuracy);
  EXPECT_EQ(metrics->loss, expected->loss);
  EXPECT_EQ(metrics->examples, 5u);
  // A malformed task is refused by the worker, which goes on serving.
  fl::TrainTask bad = first;
  bad.data->train.y[0] = 5;
  t.id = 4;
  t.kind = TaskKind::kFlFit;
  t.input = to_string(fl::encode_train_task(bad));
  r = (*w)->run(t);
  EXPECT_EQ(r.outcome, Outcome::kBadTask);
  EXPECT_NE(r.message.find("label out of range"), std::string::npos) << r.message;
  bad = first;
  bad.params.pop_back();
  EXPECT_FALSE(fl::decode_train_task(fl::encode_train_task(bad)).ok());
  bad = first;
  bad.data->train.rows = 11;
  EXPECT_FALSE(fl::decode_train_task(fl::encode_train_task(bad)).ok());
  bad = first;
  bad.data->train = fl::Dataset{{}, 0, 3, {}, {}, 2};  // training needs a row; the held-out split may be empty
  EXPECT_FALSE(fl::decode_train_task(fl::encode_train_task(bad)).ok());
  bad = first;
  bad.data->test = fl::Dataset{{}, 0, 3, {}, {}, 2};
  EXPECT_TRUE(fl::decode_train_task(fl::encode_train_task(bad)).ok());
  EXPECT_FALSE(fl::decode_train_result(as_bytes(r.output), 3).ok());
  EXPECT_FALSE(fl::decode_metrics(Bytes(23, 0)).ok());
  t.id = 5;
  t.input = to_string(fl::encode_train_task(task));
  EXPECT_EQ((*w)->run(t).outcome, Outcome::kOk);
}

TEST(TaPool, OneWorkerPerTenantReplacedWhenItDiesAndBounded) {
  Pool pool(node_worker(), 1);
  ASSERT_TRUE(pool.warm().ok());
  EXPECT_EQ(pool.stats().started, 1u);
  Task ping;
  ping.id = 1;
  ASSERT_EQ(pool.run("a", ping)->outcome, Outcome::kOk);
  ASSERT_EQ(pool.run("a", ping)->outcome, Outcome::kOk);
  EXPECT_EQ(pool.stats().started, 1u);  // the spare went to "a"
  ASSERT_TRUE(pool.warm().ok());
  EXPECT_EQ(pool.stats().started, 2u);  // a new spare
  ASSERT_EQ(pool.run("b", ping)->outcome, Outcome::kOk);
  EXPECT_EQ(pool.stats().started, 2u);
  ASSERT_EQ(pool.run("c", ping)->outcome, Outcome::kOk);  // no spare left: started for it
  EXPECT_EQ(pool.stats().started, 3u);
  Task crash;
  crash.id = 2;
  crash.kind = TaskKind::kSelftest;
  crash.code = "segfault";
  auto r = pool.run("a", crash);
  EXPECT_EQ(r->outcome, Outcome::kCrashed);
  EXPECT_NE(r->message.find("SIGSEGV"), std::string::npos) << r->message;
  EXPECT_EQ(pool.run("a", ping)->outcome, Outcome::kOk);
  EXPECT_EQ(pool.stats().replaced, 1u);
  for (size_t i = 0; i < kTaWorkersMax + 2; i++) ASSERT_EQ(pool.run("t" + std::to_string(i), ping)->outcome, Outcome::kOk);
  EXPECT_LE(pool.stats().live, kTaWorkersMax);
  EXPECT_GE(pool.stats().evicted, 2u);
}

std::string file_text(const std::string& path) {
  std::ifstream f(path, std::ios::binary);
  std::stringstream ss;
  ss << f.rdbuf();
  return ss.str();
}

TEST(TaPool, EachTenantsStoreIsPrivateSealedAndSurvivesARestart) {
  namespace fs = std::filesystem;
  std::string dir = testing::TempDir() + "ta-kv-" + std::to_string(getpid());
  fs::remove_all(dir);
  fs::create_directories(dir);
  std::string path = dir + "/tenants.sqlite";
  Bytes root(32, 5);
  Task put, get;
  put.kind = get.kind = TaskKind::kLua;
  put.id = 1;
  put.code = "function handle(x) kv.put('patient-secret-key', x) return kv.get('patient-secret-key') end";
  put.input = R"("diagnosis-plaintext-value")";
  get.id = 2;
  get.code = "function handle() return kv.get('patient-secret-key') end";
  get.input = "null";
  {
    auto store = open_sqlite_kv_store(path);
    ASSERT_TRUE(store.ok()) << store.error().to_string();
    Pool pool(node_worker(), 0);
    pool.set_store(store->get(), crypto::SecureBytes(root));
    auto r = pool.run("agent/a", put);
    ASSERT_EQ(r->outcome, Outcome::kOk) << r->message;
    EXPECT_EQ(r->output, R"("diagnosis-plaintext-value")");
    EXPECT_EQ(pool.run("agent/a", get)->output, R"("diagnosis-plaintext-value")");
    EXPECT_EQ(pool.run("agent/b", get)->output, "null");  // another tenant finds nothing
    EXPECT_EQ((*store)->count("agent/a").value(), 1u);
    // A host that moves tenant a's entry under tenant b's index: b's worker cannot open it.
    KvCipher a(tenant_key(root, "agent/a").view(), Bytes(16, 0)), b(tenant_key(root, "agent/b").view(), Bytes(16, 0));
    auto blob = (*store)->get("agent/a", a.index("patient-secret-key")).value();
    ASSERT_TRUE(blob.has_value());
    ASSERT_TRUE((*store)->put("agent/b", b.index("patient-secret-key"), *blob).ok());
    r = pool.run("agent/b", get);
    EXPECT_EQ(r->outcome, Outcome::kScriptError);
    EXPECT_NE(r->message.find("does not open with this tenant's key"), std::string::npos) << r->message;
    // A pool without a store hands out no key; its scripts have no store.
    Pool bare(node_worker(), 0);
    r = bare.run("agent/a", get);
    EXPECT_NE(r->message.find("no store"), std::string::npos) << r->message;
  }
  // Nothing readable on disk: neither the key's name nor the value.
  std::string disk;
  for (const auto& e : fs::directory_iterator(dir)) disk += file_text(e.path().string());
  EXPECT_EQ(disk.find("patient-secret-key"), std::string::npos);
  EXPECT_EQ(disk.find("diagnosis-plaintext-value"), std::string::npos);
  {
    // The node restarts (a new pool, the same file and sealing key): the value is there.
    auto store = open_sqlite_kv_store(path);
    ASSERT_TRUE(store.ok());
    Pool pool(node_worker(), 0);
    pool.set_store(store->get(), crypto::SecureBytes(root));
    EXPECT_EQ(pool.run("agent/a", get)->output, R"("diagnosis-plaintext-value")");
    // Another node's sealing key (or another program's) derives other keys: nothing opens.
    Pool other(node_worker(), 0);
    other.set_store(store->get(), crypto::SecureBytes(Bytes(32, 6)));
    EXPECT_EQ(other.run("agent/a", get)->output, "null");
  }
  fs::remove_all(dir);
}

TEST(TaSelftest, EveryEscapeAttemptIsRefusedWithItsReason) {
  Pool pool(node_worker(), 1);
  auto verdicts = run_selftest(pool);
  EXPECT_EQ(verdicts.size(), native_attempts().size() + lua_attempts().size() + 1);
  for (const auto& v : verdicts) EXPECT_TRUE(v.refused) << v.attempt << ": " << v.reason;
}

}  // namespace
}  // namespace supernet::ta
