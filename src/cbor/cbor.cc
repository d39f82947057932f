#include "cbor/cbor.h"

#include <algorithm>
#include <cassert>
#include <cmath>
#include <cstring>
#include <limits>

namespace supernet::cbor {

Value Value::uint(uint64_t v) {
  Value out;
  out.type_ = Type::kUnsigned;
  out.u_ = v;
  return out;
}
Value Value::integer(int64_t v) {
  if (v >= 0) return uint(static_cast<uint64_t>(v));
  Value out;
  out.type_ = Type::kNegative;
  out.u_ = static_cast<uint64_t>(-(v + 1));
  return out;
}
Value Value::negative_raw(uint64_t arg) {
  Value out;
  out.type_ = Type::kNegative;
  out.u_ = arg;
  return out;
}
Value Value::bytes(ByteView v) {
  Value out;
  out.type_ = Type::kBytes;
  out.bytes_.assign(v.begin(), v.end());
  return out;
}
Value Value::text(std::string_view v) {
  Value out;
  out.type_ = Type::kText;
  out.text_ = std::string(v);
  return out;
}
Value Value::array(Array items) {
  Value out;
  out.type_ = Type::kArray;
  out.array_ = std::move(items);
  return out;
}
Value Value::map(Map entries) {
  Value out;
  out.type_ = Type::kMap;
  out.map_ = std::move(entries);
  return out;
}
Value Value::tag(uint64_t tag, Value inner) {
  Value out;
  out.type_ = Type::kTag;
  out.u_ = tag;
  out.tagged_ = std::make_shared<Value>(std::move(inner));
  return out;
}
Value Value::boolean(bool v) {
  Value out;
  out.type_ = Type::kBool;
  out.u_ = v ? 1 : 0;
  return out;
}
Value Value::floating(double v) {
  Value out;
  out.type_ = Type::kFloat;
  out.f_ = v;
  return out;
}

std::optional<int64_t> Value::as_int() const {
  if (type_ == Type::kUnsigned && u_ <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return static_cast<int64_t>(u_);
  }
  if (type_ == Type::kNegative && u_ <= static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    return -static_cast<int64_t>(u_) - 1;
  }
  return std::nullopt;
}

const Value* Value::find(int64_t key) const {
  if (type_ != Type::kMap) return nullptr;
  for (const auto& [k, v] : map_) {
    if (k.is_int() && k.as_int() == key) return &v;
  }
  return nullptr;
}

const Value* Value::find(std::string_view key) const {
  if (type_ != Type::kMap) return nullptr;
  for (const auto& [k, v] : map_) {
    if (k.type_ == Type::kText && k.text_ == key) return &v;
  }
  return nullptr;
}

bool Value::operator==(const Value& o) const { return encode(*this) == encode(o); }

namespace {

class Decoder {
 public:
  explicit Decoder(ByteView data) : data_(data) {}
  size_t offset() const { return pos_; }

  Result<Value> item(size_t depth) {
    if (depth > kDepthMax) return err("cbor.depth", "nesting deeper than " + std::to_string(kDepthMax));
    if (++items_ > kItemsMax) return err("cbor.items", "more than " + std::to_string(kItemsMax) + " items");
    if (pos_ >= data_.size()) return err("cbor.truncated", "input ends where an item should start");
    uint8_t initial = data_[pos_++];
    uint8_t major = initial >> 5;
    uint8_t info = initial & 0x1f;
    if (major == 7) return simple(info);
    if (info == 31) return err("cbor.indefinite", "indefinite-length items are not accepted");
    SN_ASSIGN(uint64_t arg, argument(info));
    switch (major) {
      case 0:
        return Value::uint(arg);
      case 1:
        return Value::negative_raw(arg);
      case 2:
      case 3: {
        if (arg > data_.size() - pos_) return err("cbor.truncated", "string longer than the input");
        ByteView s = data_.subspan(pos_, static_cast<size_t>(arg));
        pos_ += static_cast<size_t>(arg);
        if (major == 2) return Value::bytes(s);
        return Value::text(std::string_view(reinterpret_cast<const char*>(s.data()), s.size()));
      }
      case 4: {
        // Each element takes at least one byte: a count beyond the input is a lie.
        if (arg > data_.size() - pos_) return err("cbor.truncated", "array longer than the input");
        Array items;
        items.reserve(static_cast<size_t>(arg));
        for (uint64_t i = 0; i < arg; i++) {
          SN_ASSIGN(Value v, item(depth + 1));
          items.push_back(std::move(v));
        }
        return Value::array(std::move(items));
      }
      case 5: {
        if (arg > (data_.size() - pos_) / 2) return err("cbor.truncated", "map longer than the input");
        Map entries;
        entries.reserve(static_cast<size_t>(arg));
        for (uint64_t i = 0; i < arg; i++) {
          SN_ASSIGN(Value k, item(depth + 1));
          SN_ASSIGN(Value v, item(depth + 1));
          entries.emplace_back(std::move(k), std::move(v));
        }
        return Value::map(std::move(entries));
      }
      case 6: {
        SN_ASSIGN(Value inner, item(depth + 1));
        return Value::tag(arg, std::move(inner));
      }
    }
    return err("cbor.major", "unknown major type");
  }

 private:
  static Error err(const char* code, const std::string& msg) { return make_error(code, msg); }

  Result<uint64_t> argument(uint8_t info) {
    if (info < 24) return static_cast<uint64_t>(info);
    size_t n = info == 24 ? 1 : info == 25 ? 2 : info == 26 ? 4 : info == 27 ? 8 : 0;
    if (n == 0) return err("cbor.reserved", "reserved additional information value");
    if (n > data_.size() - pos_) return err("cbor.truncated", "input ends inside an argument");
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++) v = v << 8 | data_[pos_ + i];
    pos_ += n;
    return v;
  }

  Result<Value> simple(uint8_t info) {
    switch (info) {
      case 20:
        return Value::boolean(false);
      case 21:
        return Value::boolean(true);
      case 22:
      case 23:
        return Value::null();
      case 25:
      case 26:
      case 27: {
        SN_ASSIGN(uint64_t bits, argument(info));
        return Value::floating(to_double(info, bits));
      }
      case 31:
        return err("cbor.indefinite", "unexpected break");
      default:
        return err("cbor.simple", "unsupported simple value " + std::to_string(info));
    }
  }

  static double to_double(uint8_t info, uint64_t bits) {
    if (info == 27) {
      double d;
      std::memcpy(&d, &bits, 8);
      return d;
    }
    if (info == 26) {
      uint32_t b = static_cast<uint32_t>(bits);
      float f;
      std::memcpy(&f, &b, 4);
      return f;
    }
    int exp = static_cast<int>(bits >> 10) & 0x1f;
    int mant = static_cast<int>(bits) & 0x3ff;
    double val = exp == 0 ? std::ldexp(mant, -24)
                 : exp != 31 ? std::ldexp(mant + 1024, exp - 25)
                 : (mant == 0 ? INFINITY : NAN);
    return (bits & 0x8000) ? -val : val;
  }

  ByteView data_;
  size_t pos_ = 0;
  size_t items_ = 0;
};

void put_head(Bytes& out, uint8_t major, uint64_t arg) {
  uint8_t m = static_cast<uint8_t>(major << 5);
  if (arg < 24) {
    out.push_back(m | static_cast<uint8_t>(arg));
  } else if (arg <= 0xff) {
    out.push_back(m | 24);
    out.push_back(static_cast<uint8_t>(arg));
  } else if (arg <= 0xffff) {
    out.push_back(m | 25);
    for (int s = 8; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(arg >> s));
  } else if (arg <= 0xffffffff) {
    out.push_back(m | 26);
    for (int s = 24; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(arg >> s));
  } else {
    out.push_back(m | 27);
    for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(arg >> s));
  }
}

void encode_into(Bytes& out, const Value& v) {
  switch (v.type()) {
    case Type::kUnsigned:
      put_head(out, 0, v.raw_uint());
      break;
    case Type::kNegative:
      put_head(out, 1, v.raw_uint());
      break;
    case Type::kBytes:
      put_head(out, 2, v.as_bytes().size());
      out.insert(out.end(), v.as_bytes().begin(), v.as_bytes().end());
      break;
    case Type::kText:
      put_head(out, 3, v.as_text().size());
      out.insert(out.end(), v.as_text().begin(), v.as_text().end());
      break;
    case Type::kArray:
      put_head(out, 4, v.as_array().size());
      for (const auto& item : v.as_array()) encode_into(out, item);
      break;
    case Type::kMap: {
      std::vector<std::pair<Bytes, Bytes>> entries;
      entries.reserve(v.as_map().size());
      for (const auto& [k, val] : v.as_map()) entries.emplace_back(encode(k), encode(val));
      std::sort(entries.begin(), entries.end());
      put_head(out, 5, entries.size());
      for (const auto& [k, val] : entries) {
        out.insert(out.end(), k.begin(), k.end());
        out.insert(out.end(), val.begin(), val.end());
      }
      break;
    }
    case Type::kTag:
      put_head(out, 6, v.tag_number());
      encode_into(out, v.tagged());
      break;
    case Type::kBool:
      out.push_back(v.as_bool() ? 0xf5 : 0xf4);
      break;
    case Type::kNull:
      out.push_back(0xf6);
      break;
    case Type::kFloat: {
      double d = v.as_float();
      uint64_t bits;
      std::memcpy(&bits, &d, 8);
      out.push_back(0xfb);
      for (int s = 56; s >= 0; s -= 8) out.push_back(static_cast<uint8_t>(bits >> s));
      break;
    }
  }
}

}  // namespace

Result<Value> decode_prefix(ByteView data, size_t* used) {
  Decoder d(data);
  SN_ASSIGN(Value v, d.item(0));
  *used = d.offset();
  return v;
}

Result<Value> decode(ByteView data) {
  size_t used = 0;
  SN_ASSIGN(Value v, decode_prefix(data, &used));
  if (used != data.size()) {
    return make_error("cbor.trailing", std::to_string(data.size() - used) +
                                           " trailing bytes after the CBOR item");
  }
  return v;
}

Bytes encode(const Value& v) {
  Bytes out;
  encode_into(out, v);
  return out;
}

std::string diagnostic(const Value& v, size_t shown) {
  switch (v.type()) {
    case Type::kUnsigned:
      return std::to_string(v.raw_uint());
    case Type::kNegative:
      return v.as_int() ? std::to_string(*v.as_int()) : "-(huge)";
    case Type::kBytes: {
      const Bytes& b = v.as_bytes();
      std::string hex = to_hex(ByteView(b.data(), std::min(b.size(), shown)));
      return "h'" + hex + (b.size() > shown ? "...'" : "'");
    }
    case Type::kText: {
      std::string out = "\"";
      for (char c : v.as_text()) {
        if (c == '"' || c == '\\') out += '\\';
        out += (static_cast<unsigned char>(c) < 0x20) ? '?' : c;
      }
      return out + "\"";
    }
    case Type::kArray: {
      std::string out = "[";
      for (size_t i = 0; i < v.as_array().size(); i++) {
        if (i) out += ", ";
        out += diagnostic(v.as_array()[i], shown);
      }
      return out + "]";
    }
    case Type::kMap: {
      std::string out = "{";
      bool first = true;
      for (const auto& [k, val] : v.as_map()) {
        if (!first) out += ", ";
        first = false;
        out += diagnostic(k, shown) + ": " + diagnostic(val, shown);
      }
      return out + "}";
    }
    case Type::kTag:
      return std::to_string(v.tag_number()) + "(" + diagnostic(v.tagged(), shown) + ")";
    case Type::kBool:
      return v.as_bool() ? "true" : "false";
    case Type::kNull:
      return "null";
    case Type::kFloat:
      return std::to_string(v.as_float());
  }
  return "?";
}

}  // namespace supernet::cbor
