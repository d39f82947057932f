#include "ta/lua_runtime.h"

#include <cmath>
#include <cstring>
#include <map>
#include <memory>
#include <lua5.4/lua.hpp>
#include <new>
#include <nlohmann/json.hpp>

#include "fl/model.h"
#include "fl/model_file.h"
#include "ta/kv_store.h"

namespace supernet::ta {

namespace {

using nlohmann::json;

// Lua raises errors with longjmp: no C++ object with a destructor may be live in a frame an
// error can cross. C++ state that must survive one (a parsed document, an encoded string) is
// kept in a userdata whose __gc destroys it.

struct Context {
  // heap
  size_t used = 0, peak = 0, cap = 0;
  bool memory_hit = false;
  // gas
  uint64_t gas_limit = 0, gas_used = 0;
  bool gas_hit = false;
  // the task
  const std::string_view* input = nullptr;
  std::vector<std::string>* log = nullptr;
  KvAccess* kv = nullptr;
  uint32_t kv_calls = 0;
  // The task's named models (model files), parsed on first use by model.predict(name, rows).
  const ModelSet* models = nullptr;
  struct Loaded {
    fl::ModelFile file;
    fl::Model model;
    std::vector<float> x, probs;
  };
  std::map<std::string, std::unique_ptr<Loaded>, std::less<>> loaded;
};

Context* context_of(lua_State* L) { return *static_cast<Context**>(lua_getextraspace(L)); }

void* allocate(void* ud, void* ptr, size_t osize, size_t nsize) {
  auto* c = static_cast<Context*>(ud);
  size_t old = ptr != nullptr ? osize : 0;  // with no block, osize is the kind of object
  if (nsize == 0) {
    std::free(ptr);
    c->used -= old;
    return nullptr;
  }
  if (nsize > old && c->used - old + nsize > c->cap) {
    c->memory_hit = true;
    return nullptr;
  }
  void* p = std::realloc(ptr, nsize);
  if (p == nullptr) {
    c->memory_hit = true;
    return nullptr;
  }
  c->used = c->used - old + nsize;
  if (c->used > c->peak) c->peak = c->used;
  return p;
}

void gas_hook(lua_State* L, lua_Debug*) {
  Context* c = context_of(L);
  if (!c->gas_hit) {
    c->gas_used += kLuaGasQuantum;
    if (c->gas_used <= c->gas_limit) return;
    c->gas_hit = true;
    // From now on every instruction fails: a pcall around the loop cannot carry on.
    lua_sethook(L, gas_hook, LUA_MASKCOUNT, 1);
  }
  luaL_error(L, "gas exhausted");
}

// Charges `cost` at once (host functions); raises once the budget is spent. Call it with no
// C++ object live in the frame.
int charge_gas(lua_State* L, uint64_t cost) {
  Context* c = context_of(L);
  if (c->gas_used + cost > c->gas_limit) {
    c->gas_used = c->gas_limit;
    c->gas_hit = true;
    if (lua_gethook(L) != nullptr) lua_sethook(L, gas_hook, LUA_MASKCOUNT, 1);
    return luaL_error(L, "gas exhausted");
  }
  c->gas_used += cost;
  return 0;
}

// --- JSON <-> Lua ---

// The nesting depth of a JSON text, without parsing it (the parser's own recursion is not
// reached for texts nested deeper than kJsonDepthMax).
int json_depth(std::string_view s) {
  int depth = 0, max = 0;
  bool in_string = false, escaped = false;
  for (char ch : s) {
    if (in_string) {
      if (escaped) escaped = false;
      else if (ch == '\\') escaped = true;
      else if (ch == '"') in_string = false;
      continue;
    }
    if (ch == '"') in_string = true;
    else if (ch == '[' || ch == '{') max = std::max(max, ++depth);
    else if (ch == ']' || ch == '}') depth--;
  }
  return max;
}

template <typename T>
int destroy(lua_State* L) {
  static_cast<T*>(lua_touserdata(L, 1))->~T();
  return 0;
}

// Pushes a new userdata holding a T, destroyed by the garbage collector.
template <typename T>
T* push_owned(lua_State* L, const char* meta) {
  void* p = lua_newuserdatauv(L, sizeof(T), 0);
  T* t = new (p) T();
  if (luaL_newmetatable(L, meta)) {
    lua_pushcfunction(L, destroy<T>);
    lua_setfield(L, -2, "__gc");
  }
  lua_setmetatable(L, -2);
  return t;
}

// Pushes the Lua value of `j` (JSON null is json.null). Raises Lua errors (memory): only
// trivially destructible locals here.
void push_json(lua_State* L, const json& j) {
  luaL_checkstack(L, 4, "JSON nested too deeply");
  switch (j.type()) {
    case json::value_t::null:
      lua_pushlightuserdata(L, nullptr);
      return;
    case json::value_t::boolean:
      lua_pushboolean(L, j.get<bool>());
      return;
    case json::value_t::number_integer:
      lua_pushinteger(L, j.get<int64_t>());
      return;
    case json::value_t::number_unsigned: {
      uint64_t u = j.get<uint64_t>();
      if (u <= static_cast<uint64_t>(INT64_MAX)) lua_pushinteger(L, static_cast<lua_Integer>(u));
      else lua_pushnumber(L, static_cast<double>(u));
      return;
    }
    case json::value_t::number_float:
      lua_pushnumber(L, j.get<double>());
      return;
    case json::value_t::string: {
      const auto& s = j.get_ref<const std::string&>();
      lua_pushlstring(L, s.data(), s.size());
      return;
    }
    case json::value_t::array: {
      lua_createtable(L, static_cast<int>(std::min<size_t>(j.size(), 1u << 20)), 0);
      lua_Integer i = 1;
      for (auto it = j.cbegin(); it != j.cend(); ++it) {
        push_json(L, *it);
        lua_rawseti(L, -2, i++);
      }
      return;
    }
    case json::value_t::object: {
      lua_createtable(L, 0, static_cast<int>(std::min<size_t>(j.size(), 1u << 20)));
      for (auto it = j.cbegin(); it != j.cend(); ++it) {
        const std::string& k = it.key();
        lua_pushlstring(L, k.data(), k.size());
        push_json(L, *it);
        lua_rawset(L, -3);
      }
      return;
    }
    default:  // binary and discarded: not produced by the parser
      lua_pushnil(L);
  }
}

// Decodes `text` and pushes its Lua value, or returns false (nothing pushed) with `why` set.
bool push_decoded(lua_State* L, const char* text, size_t len, const char** why) {
  if (json_depth(std::string_view(text, len)) > kJsonDepthMax) {
    *why = "JSON nested deeper than 100";
    return false;
  }
  json* doc = push_owned<json>(L, "supernet.json");
  *doc = json::parse(text, text + len, nullptr, false);
  if (doc->is_discarded()) {
    lua_pop(L, 1);
    *why = "not valid JSON";
    return false;
  }
  push_json(L, *doc);
  lua_remove(L, -2);  // the document; collected later
  return true;
}

// Encodes the Lua value at `index` into `out`. Never raises: raw access only, no metamethods,
// no conversions. Returns false with `why` for what JSON cannot hold.
bool encode_value(lua_State* L, int index, int depth, json& out, const char** why) {
  index = lua_absindex(L, index);
  switch (lua_type(L, index)) {
    case LUA_TNIL:
      out = nullptr;
      return true;
    case LUA_TLIGHTUSERDATA:
      if (lua_touserdata(L, index) == nullptr) {
        out = nullptr;
        return true;
      }
      *why = "a userdata value";
      return false;
    case LUA_TBOOLEAN:
      out = lua_toboolean(L, index) != 0;
      return true;
    case LUA_TNUMBER:
      if (lua_isinteger(L, index)) {
        out = static_cast<int64_t>(lua_tointeger(L, index));
      } else {
        double d = lua_tonumber(L, index);
        if (!std::isfinite(d)) {
          *why = "a number JSON cannot hold (nan or inf)";
          return false;
        }
        out = d;
      }
      return true;
    case LUA_TSTRING: {
      size_t n = 0;
      const char* s = lua_tolstring(L, index, &n);
      out = std::string(s, n);
      return true;
    }
    case LUA_TTABLE: {
      if (depth >= kJsonDepthMax) {
        *why = "tables nested deeper than 100 (or a table that holds itself)";
        return false;
      }
      if (!lua_checkstack(L, 4)) {
        *why = "out of stack";
        return false;
      }
      // An array when the keys are exactly 1..n, else an object of string (or integer) keys.
      size_t count = 0;
      bool sequence = true;
      lua_Integer max_index = 0;
      lua_pushnil(L);
      while (lua_next(L, index) != 0) {
        count++;
        if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2) && lua_tointeger(L, -2) >= 1) {
          max_index = std::max(max_index, lua_tointeger(L, -2));
        } else {
          sequence = false;
        }
        lua_pop(L, 1);
      }
      if (count > 0 && sequence && static_cast<size_t>(max_index) == count) {
        out = json::array();
        for (lua_Integer i = 1; i <= max_index; i++) {
          lua_rawgeti(L, index, i);
          json v;
          bool ok = encode_value(L, -1, depth + 1, v, why);
          lua_pop(L, 1);
          if (!ok) return false;
          out.push_back(std::move(v));
        }
        return true;
      }
      out = json::object();
      lua_pushnil(L);
      while (lua_next(L, index) != 0) {
        std::string key;
        if (lua_type(L, -2) == LUA_TSTRING) {
          size_t n = 0;
          const char* s = lua_tolstring(L, -2, &n);
          key.assign(s, n);
        } else if (lua_type(L, -2) == LUA_TNUMBER && lua_isinteger(L, -2)) {
          key = std::to_string(lua_tointeger(L, -2));
        } else {
          lua_pop(L, 2);
          *why = "a table key that is neither a string nor an integer";
          return false;
        }
        json v;
        bool ok = encode_value(L, -1, depth + 1, v, why);
        lua_pop(L, 1);
        if (!ok) {
          lua_pop(L, 1);
          return false;
        }
        out[key] = std::move(v);
      }
      return true;
    }
    default:
      *why = "a function, coroutine or userdata value";
      return false;
  }
}

// Encodes the value at `index` as JSON text into a userdata-owned string pushed on the stack.
// False (nothing pushed) with `why` when JSON cannot hold it.
bool push_encoded_owner(lua_State* L, int index, std::string** text, const char** why) {
  index = lua_absindex(L, index);
  std::string* s = push_owned<std::string>(L, "supernet.string");
  {
    json doc;
    if (!encode_value(L, index, 0, doc, why)) {
      lua_pop(L, 1);
      return false;
    }
    *s = doc.dump(-1, ' ', false, json::error_handler_t::replace);
  }
  *text = s;
  return true;
}

int l_json_encode(lua_State* L) {
  luaL_checkany(L, 1);
  lua_settop(L, 1);
  std::string* s = nullptr;
  const char* why = nullptr;
  if (!push_encoded_owner(L, 1, &s, &why)) return luaL_error(L, "json.encode: %s", why);
  if (s->size() > kTaFrameBytesMax) return luaL_error(L, "json.encode: the text would be over %d bytes", static_cast<int>(kTaFrameBytesMax));
  lua_pushlstring(L, s->data(), s->size());
  return 1;
}

int l_json_decode(lua_State* L) {
  size_t n = 0;
  const char* text = luaL_checklstring(L, 1, &n);
  const char* why = nullptr;
  if (!push_decoded(L, text, n, &why)) return luaL_error(L, "json.decode: %s", why);
  return 1;
}

int l_log(lua_State* L) {
  Context* c = context_of(L);
  int n = lua_gettop(L);
  if (c->log->size() >= kTaLogLinesMax) return 0;  // the bound: later lines are dropped
  // Built with luaL_Buffer-free code: only raw string reads, one C++ string, no Lua call while it lives.
  c->log->emplace_back();
  std::string& line = c->log->back();
  for (int i = 1; i <= n && line.size() < kTaLogLineBytesMax; i++) {
    if (i > 1) line += ' ';
    switch (lua_type(L, i)) {
      case LUA_TSTRING: {
        size_t len = 0;
        const char* s = lua_tolstring(L, i, &len);
        line.append(s, std::min(len, kTaLogLineBytesMax));
        break;
      }
      case LUA_TNUMBER: {
        char buf[64];
        if (lua_isinteger(L, i)) std::snprintf(buf, sizeof buf, "%lld", static_cast<long long>(lua_tointeger(L, i)));
        else std::snprintf(buf, sizeof buf, "%.17g", lua_tonumber(L, i));
        line += buf;
        break;
      }
      case LUA_TBOOLEAN: line += lua_toboolean(L, i) ? "true" : "false"; break;
      case LUA_TNIL: line += "nil"; break;
      default: line += luaL_typename(L, i); break;
    }
  }
  if (line.size() > kTaLogLineBytesMax) line.resize(kTaLogLineBytesMax);
  return 0;
}

// model.predict(m, rows): inference with the federated learning models, natively. `m` is
// {kind = "logistic" | "mlp", inputs = N, classes = C, hidden = {H1 [, H2]}, params = {...}}
// (the parameters as GET /v1/fl/jobs/{id}/model gives them), `rows` an array of arrays of N
// numbers; returns one {class = k, p = {p0, p1, ...}} per row (classes from 0). Its cost is
// charged as gas: one unit per kPredictMacsPerGas multiply-adds.
constexpr uint64_t kPredictMacsPerGas = 16;
constexpr size_t kPredictRowsMax = 100000;

struct Predictor {
  fl::ModelSpec spec;
  fl::Model model;
  std::vector<float> x, probs;
};

// t[name], raw (no metamethod runs), pushed.
int raw_field(lua_State* L, int t, const char* name) {
  lua_pushstring(L, name);
  return lua_rawget(L, t);
}

int predict_rows(lua_State* L, const fl::Model& model, const fl::Standardizer* standardize, std::vector<float>& x, std::vector<float>& probs);

// The task's model called `name`, parsed (and kept for the task) on first use; `why` says what
// is wrong otherwise. No Lua call here: C++ objects only, no error can jump over them.
Context::Loaded* load_named(Context* c, std::string_view name, char* why, size_t why_size, uint64_t* parse_bytes) {
  if (auto it = c->loaded.find(name); it != c->loaded.end()) return it->second.get();
  const std::string* text = nullptr;
  if (c->models != nullptr) {
    for (const auto& [n, t] : *c->models) {
      if (n == name) text = &t;
    }
  }
  if (text == nullptr) {
    std::snprintf(why, why_size, "this task has no model named '%.*s'", static_cast<int>(std::min<size_t>(name.size(), 100)), name.data());
    return nullptr;
  }
  *parse_bytes = text->size();
  try {
    auto file = fl::ModelFile::parse(*text);
    if (!file.ok()) {
      std::snprintf(why, why_size, "model '%.*s': %s", static_cast<int>(std::min<size_t>(name.size(), 100)), name.data(), file.error().message.c_str());
      return nullptr;
    }
    auto l = std::make_unique<Context::Loaded>();
    l->file = std::move(file).value();
    l->model = l->file.model();
    l->x.resize(l->file.spec.inputs);
    Context::Loaded* out = l.get();
    c->loaded.emplace(std::string(name), std::move(l));
    return out;
  } catch (const std::exception& e) {
    std::snprintf(why, why_size, "model '%.*s': %s", static_cast<int>(std::min<size_t>(name.size(), 100)), name.data(), e.what());
    return nullptr;
  }
}

int l_model_predict(lua_State* L) {
  luaL_checktype(L, 2, LUA_TTABLE);
  if (lua_type(L, 1) == LUA_TSTRING) {
    // A model of the task (an agent's package), by name: its standardization applies to the rows.
    size_t n = 0;
    const char* name = lua_tolstring(L, 1, &n);
    char why[320] = {0};
    uint64_t parse_bytes = 0;
    Context::Loaded* m = load_named(context_of(L), std::string_view(name, n), why, sizeof why, &parse_bytes);
    if (m == nullptr) return luaL_error(L, "model.predict: %s", why);
    charge_gas(L, parse_bytes / kPredictMacsPerGas);
    lua_settop(L, 2);
    return predict_rows(L, m->model, &m->file.standardization, m->x, m->probs);
  }
  luaL_checktype(L, 1, LUA_TTABLE);
  lua_settop(L, 2);
  // Every C++ object lives in this userdata (index 3), so an error raised below frees it.
  Predictor* p = push_owned<Predictor>(L, "supernet.predictor");
  raw_field(L, 1, "kind");
  const char* kind = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : nullptr;
  if (kind == nullptr || (std::strcmp(kind, "logistic") != 0 && std::strcmp(kind, "mlp") != 0)) {
    return luaL_error(L, "model.predict: kind must be \"logistic\" or \"mlp\"");
  }
  p->spec.kind = std::strcmp(kind, "mlp") == 0 ? fl::ModelSpec::Kind::kMlp : fl::ModelSpec::Kind::kLogistic;
  raw_field(L, 1, "inputs");
  lua_Integer inputs = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
  raw_field(L, 1, "classes");
  lua_Integer classes = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
  lua_pop(L, 3);
  if (inputs < 1 || inputs > 100000 || classes < 2 || classes > 1000) return luaL_error(L, "model.predict: inputs and classes must be integers in range");
  p->spec.inputs = static_cast<size_t>(inputs);
  p->spec.classes = static_cast<int>(classes);
  if (raw_field(L, 1, "hidden") == LUA_TTABLE) {
    for (lua_Integer i = 1; i <= 3; i++) {
      if (lua_rawgeti(L, -1, i) == LUA_TNIL) {
        lua_pop(L, 1);
        break;
      }
      lua_Integer h = lua_isinteger(L, -1) ? lua_tointeger(L, -1) : 0;
      lua_pop(L, 1);
      if (h < 1 || h > 4096 || i == 3) return luaL_error(L, "model.predict: hidden is one or two layer widths of 1 to 4096");
      p->spec.hidden.push_back(static_cast<size_t>(h));
    }
  }
  lua_pop(L, 1);
  {
    char why[256] = {0};
    if (auto v = p->spec.validate(); !v.ok()) {
      std::snprintf(why, sizeof why, "%s", v.error().message.c_str());
    } else if (auto m = fl::Model::create(p->spec, 0); !m.ok()) {
      std::snprintf(why, sizeof why, "%s", m.error().message.c_str());
    } else {
      p->model = std::move(m).value();
    }
    if (why[0] != 0) return luaL_error(L, "model.predict: %s", why);
  }
  const fl::ModelSpec& spec = p->spec;
  size_t count = p->model.params().size();
  if (raw_field(L, 1, "params") != LUA_TTABLE || lua_rawlen(L, -1) != count) {
    return luaL_error(L, "model.predict: params must be an array of the model's %d parameters", static_cast<int>(count));
  }
  for (size_t i = 0; i < count; i++) {
    lua_rawgeti(L, -1, static_cast<lua_Integer>(i + 1));
    if (lua_type(L, -1) != LUA_TNUMBER) return luaL_error(L, "model.predict: parameter %d is not a number", static_cast<int>(i + 1));
    p->model.params()[i] = static_cast<float>(lua_tonumber(L, -1));
    lua_pop(L, 1);
  }
  lua_pop(L, 1);
  p->x.resize(spec.inputs);
  return predict_rows(L, p->model, nullptr, p->x, p->probs);
}

// The rows at index 2 through `model` (standardized first when `standardize`); pushes the answers.
int predict_rows(lua_State* L, const fl::Model& model, const fl::Standardizer* standardize, std::vector<float>& x, std::vector<float>& probs) {
  const fl::ModelSpec& spec = model.spec();
  size_t count = model.params().size();
  size_t rows = lua_rawlen(L, 2);
  if (rows > kPredictRowsMax) return luaL_error(L, "model.predict: at most %d rows per call", static_cast<int>(kPredictRowsMax));
  // The whole call's cost, charged before it runs.
  charge_gas(L, (static_cast<uint64_t>(rows) * count) / kPredictMacsPerGas + 1);
  lua_createtable(L, static_cast<int>(rows), 0);
  for (size_t r = 0; r < rows; r++) {
    if (lua_rawgeti(L, 2, static_cast<lua_Integer>(r + 1)) != LUA_TTABLE || lua_rawlen(L, -1) != spec.inputs) {
      return luaL_error(L, "model.predict: row %d is not an array of %d numbers", static_cast<int>(r + 1), static_cast<int>(spec.inputs));
    }
    for (size_t f = 0; f < spec.inputs; f++) {
      lua_rawgeti(L, -1, static_cast<lua_Integer>(f + 1));
      if (lua_type(L, -1) != LUA_TNUMBER) return luaL_error(L, "model.predict: row %d has a value that is not a number", static_cast<int>(r + 1));
      x[f] = static_cast<float>(lua_tonumber(L, -1));
      if (standardize != nullptr) x[f] = (x[f] - standardize->mean[f]) / standardize->stddev[f];
      lua_pop(L, 1);
    }
    lua_pop(L, 1);
    model.predict(x.data(), probs);
    size_t best = 0;
    lua_createtable(L, 0, 2);
    lua_createtable(L, static_cast<int>(probs.size()), 0);
    for (size_t k = 0; k < probs.size(); k++) {
      if (probs[k] > probs[best]) best = k;
      lua_pushnumber(L, probs[k]);
      lua_rawseti(L, -2, static_cast<lua_Integer>(k + 1));
    }
    lua_setfield(L, -2, "p");
    lua_pushinteger(L, static_cast<lua_Integer>(best));
    lua_setfield(L, -2, "class");
    lua_rawseti(L, -2, static_cast<lua_Integer>(r + 1));
  }
  return 1;
}

// --- the tenant's store ---

// The key argument, checked, and the call counted and charged.
const char* kv_begin(lua_State* L, const char* fn, size_t* n) {
  Context* c = context_of(L);
  const char* key = luaL_checklstring(L, 1, n);
  if (c->kv == nullptr) {
    luaL_error(L, "%s: this task has no store (its node keeps none for it)", fn);
    return nullptr;
  }
  if (*n == 0 || *n > kTaKvKeyBytesMax) {
    luaL_error(L, "%s: a key is 1 to %d bytes", fn, static_cast<int>(kTaKvKeyBytesMax));
    return nullptr;
  }
  if (++c->kv_calls > kTaKvCallsMax) {
    luaL_error(L, "%s: more than %d kv calls in one task", fn, static_cast<int>(kTaKvCallsMax));
    return nullptr;
  }
  charge_gas(L, kKvCallGas + *n / 16);
  return key;
}

int l_kv_get(lua_State* L) {
  size_t n = 0;
  const char* key = kv_begin(L, "kv.get", &n);
  lua_settop(L, 1);
  std::string* value = push_owned<std::string>(L, "supernet.string");
  int state = 0;  // 0 absent, 1 found, 2 failed
  {
    auto r = context_of(L)->kv->get(std::string_view(key, n));
    if (!r.ok()) {
      *value = r.error().message;
      state = 2;
    } else if (r->has_value()) {
      *value = std::move(**r);
      state = 1;
    }
  }
  if (state == 2) return luaL_error(L, "kv.get: %s", value->c_str());
  if (state == 0) {
    lua_pushnil(L);
    return 1;
  }
  charge_gas(L, value->size() / 16);
  const char* why = nullptr;
  if (!push_decoded(L, value->data(), value->size(), &why)) return luaL_error(L, "kv.get: the stored value: %s", why);
  return 1;
}

int kv_erase(lua_State* L, const char* key, size_t n, const char* fn) {
  std::string* failure = push_owned<std::string>(L, "supernet.string");
  {
    auto s = context_of(L)->kv->erase(std::string_view(key, n));
    if (!s.ok()) *failure = s.error().message;
  }
  if (!failure->empty()) return luaL_error(L, "%s: %s", fn, failure->c_str());
  return 0;
}

int l_kv_put(lua_State* L) {
  size_t n = 0;
  const char* key = kv_begin(L, "kv.put", &n);
  lua_settop(L, 2);
  if (lua_isnil(L, 2)) return kv_erase(L, key, n, "kv.put");
  std::string* text = nullptr;
  const char* why = nullptr;
  if (!push_encoded_owner(L, 2, &text, &why)) return luaL_error(L, "kv.put: %s", why);
  if (text->size() > kTaKvValueBytesMax) return luaL_error(L, "kv.put: a value is at most %d bytes as JSON", static_cast<int>(kTaKvValueBytesMax));
  charge_gas(L, text->size() / 16);
  std::string* failure = push_owned<std::string>(L, "supernet.string");
  {
    auto s = context_of(L)->kv->put(std::string_view(key, n), *text);
    if (!s.ok()) *failure = s.error().message;
  }
  if (!failure->empty()) return luaL_error(L, "kv.put: %s", failure->c_str());
  return 0;
}

int l_kv_delete(lua_State* L) {
  size_t n = 0;
  const char* key = kv_begin(L, "kv.delete", &n);
  lua_settop(L, 1);
  return kv_erase(L, key, n, "kv.delete");
}

// setmetatable without finalizers: Lua runs __gc metamethods with hooks off (so unmetered by
// gas), and an object is marked for finalization only when setmetatable sees __gc.
int l_setmetatable_no_gc(lua_State* L) {
  if (lua_type(L, 2) == LUA_TTABLE) {
    lua_pushliteral(L, "__gc");
    if (lua_rawget(L, 2) != LUA_TNIL) return luaL_error(L, "setmetatable: finalizers (__gc) are not available to scripts");
    lua_pop(L, 1);
  }
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, lua_gettop(L) - 1, LUA_MULTRET);
  return lua_gettop(L);
}

// load() of text only: the mode argument is forced to "t".
int l_load_text(lua_State* L) {
  lua_settop(L, 4);
  lua_pushliteral(L, "t");
  lua_replace(L, 3);
  lua_pushvalue(L, lua_upvalueindex(1));
  lua_insert(L, 1);
  lua_call(L, 4, LUA_MULTRET);
  return lua_gettop(L);
}

void open_sandboxed_libraries(lua_State* L, uint64_t seed) {
  const luaL_Reg libs[] = {{LUA_GNAME, luaopen_base}, {LUA_STRLIBNAME, luaopen_string}, {LUA_TABLIBNAME, luaopen_table},
                           {LUA_MATHLIBNAME, luaopen_math}, {LUA_UTF8LIBNAME, luaopen_utf8}, {LUA_COLIBNAME, luaopen_coroutine}};
  for (const auto& l : libs) {
    luaL_requiref(L, l.name, l.func, 1);
    lua_pop(L, 1);
  }
  // Base: no files, print logs, load takes text only.
  for (const char* name : {"dofile", "loadfile", "require"}) {
    lua_pushnil(L);
    lua_setglobal(L, name);
  }
  lua_pushcfunction(L, l_log);
  lua_setglobal(L, "print");
  lua_pushcfunction(L, l_log);
  lua_setglobal(L, "log");
  lua_getglobal(L, "load");
  lua_pushcclosure(L, l_load_text, 1);
  lua_setglobal(L, "load");
  lua_getglobal(L, "setmetatable");
  lua_pushcclosure(L, l_setmetatable_no_gc, 1);
  lua_setglobal(L, "setmetatable");
  // string.dump would hand out bytecode (and load refuses it anyway).
  lua_getglobal(L, LUA_STRLIBNAME);
  lua_pushnil(L);
  lua_setfield(L, -2, "dump");
  lua_pop(L, 1);
  // math.random from the task's seed.
  lua_getglobal(L, LUA_MATHLIBNAME);
  lua_getfield(L, -1, "randomseed");
  lua_pushinteger(L, static_cast<lua_Integer>(seed));
  lua_call(L, 1, 0);
  lua_pop(L, 1);
  // json
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, l_json_encode);
  lua_setfield(L, -2, "encode");
  lua_pushcfunction(L, l_json_decode);
  lua_setfield(L, -2, "decode");
  lua_pushlightuserdata(L, nullptr);
  lua_setfield(L, -2, "null");
  lua_setglobal(L, "json");
  lua_createtable(L, 0, 1);
  lua_pushcfunction(L, l_model_predict);
  lua_setfield(L, -2, "predict");
  lua_setglobal(L, "model");
  lua_createtable(L, 0, 3);
  lua_pushcfunction(L, l_kv_get);
  lua_setfield(L, -2, "get");
  lua_pushcfunction(L, l_kv_put);
  lua_setfield(L, -2, "put");
  lua_pushcfunction(L, l_kv_delete);
  lua_setfield(L, -2, "delete");
  lua_setglobal(L, "kv");
}

// Protected: opens the libraries.
int entry(lua_State* L) {
  uint64_t seed = static_cast<uint64_t>(lua_tointeger(L, 1));
  lua_settop(L, 0);
  open_sandboxed_libraries(L, seed);
  return 0;
}

int call_handle(lua_State* L) {
  Context* c = context_of(L);
  lua_getglobal(L, "handle");
  if (lua_type(L, -1) != LUA_TFUNCTION) return luaL_error(L, "the script defines no function handle(input)");
  const char* why = nullptr;
  if (!push_decoded(L, c->input->data(), c->input->size(), &why)) return luaL_error(L, "the task's input: %s", why);
  lua_call(L, 1, 1);
  return 1;
}

std::string error_text(lua_State* L) {
  if (lua_type(L, -1) == LUA_TSTRING) {
    size_t n = 0;
    const char* s = lua_tolstring(L, -1, &n);
    return std::string(s, std::min<size_t>(n, 4096));
  }
  return std::string("(an error object of type ") + luaL_typename(L, -1) + ")";
}

}  // namespace

LuaRun run_lua(std::string_view source, std::string_view input_json, const Limits& limits, uint64_t seed, bool metered, KvAccess* kv,
               const ModelSet* models) {
  LuaRun out;
  Context c;
  c.models = models;
  c.cap = limits.memory_bytes;
  c.gas_limit = limits.gas;
  c.input = &input_json;
  c.log = &out.log;
  c.kv = kv;
  lua_State* L = lua_newstate(allocate, &c);
  if (L == nullptr) {
    out.outcome = Outcome::kMemory;
    out.message = "the memory limit does not hold a Lua state";
    return out;
  }
  *static_cast<Context**>(lua_getextraspace(L)) = &c;
  if (metered) lua_sethook(L, gas_hook, LUA_MASKCOUNT, kLuaGasQuantum);
  auto fail = [&](Outcome o, std::string message) {
    out.outcome = c.memory_hit ? Outcome::kMemory : c.gas_hit ? Outcome::kGas : o;
    if (out.outcome == Outcome::kMemory) message = "memory limit of " + std::to_string(limits.memory_bytes) + " bytes reached (" + message + ")";
    if (out.outcome == Outcome::kGas) message = "gas limit of " + std::to_string(limits.gas) + " instructions reached (" + message + ")";
    out.message = std::move(message);
  };
  lua_pushcfunction(L, entry);
  lua_pushinteger(L, static_cast<lua_Integer>(seed));
  if (lua_pcall(L, 1, 0, 0) != LUA_OK) {
    fail(Outcome::kScriptError, error_text(L));
  } else if (luaL_loadbufferx(L, source.data(), source.size(), "=script", "t") != LUA_OK) {
    fail(Outcome::kScriptError, error_text(L));
  } else if (lua_pcall(L, 0, 0, 0) != LUA_OK) {
    fail(Outcome::kScriptError, error_text(L));
  } else {
    lua_pushcfunction(L, call_handle);
    if (lua_pcall(L, 0, 1, 0) != LUA_OK) {
      fail(Outcome::kScriptError, error_text(L));
    } else {
      json doc;
      const char* why = nullptr;
      if (!encode_value(L, -1, 0, doc, &why)) {
        fail(Outcome::kScriptError, std::string("handle returned what JSON cannot hold: ") + why);
      } else {
        out.output = doc.dump(-1, ' ', false, json::error_handler_t::replace);
        if (out.output.size() > kTaFrameBytesMax - 4096) {
          out.output.clear();
          fail(Outcome::kScriptError, "the output is over the frame bound");
        }
      }
    }
  }
  out.gas_used = std::min(c.gas_used, limits.gas);
  lua_close(L);  // scripts have no finalizers to run here (l_setmetatable_no_gc)
  out.peak_memory = c.peak;
  return out;
}

Status compile_lua(std::string_view source) {
  if (source.size() > kTaCodeBytesMax) return make_error("lua.too_large", "the script is over " + std::to_string(kTaCodeBytesMax >> 10) + " KiB");
  Context c;
  c.cap = 64u << 20;
  lua_State* L = lua_newstate(allocate, &c);
  if (L == nullptr) return make_error("lua.memory", "no Lua state");
  Status out = ok_status();
  // Text only, compiled and never run: what a package's entry script must pass at publish.
  if (luaL_loadbufferx(L, source.data(), source.size(), "=entry", "t") != LUA_OK) out = make_error("lua.compile", error_text(L));
  lua_close(L);
  return out;
}

}  // namespace supernet::ta
