#include <gtest/gtest.h>

#include <sodium.h>

#include <vector>

#include "crypto/keys.h"
#include "keys/frost.h"
#include "keys/hpke.h"
#include "util/bytes.h"

namespace supernet::keys {
namespace {

Bytes hex(std::string_view h) { return from_hex(h).value(); }

struct Encryption {
  uint64_t seq;
  const char *pt, *aad, *ct;
};
struct Export {
  const char* context;
  size_t length;
  const char* value;
};
struct Vector {
  HpkeAead aead;
  const char *info, *ikm_e, *pk_e, *ikm_r, *pk_r, *sk_r, *key, *base_nonce, *exporter_secret;
  std::vector<Encryption> encryptions;
  std::vector<Export> exports;
};

// RFC 9180 appendix A.1.1 and A.2.1 (base mode), as published.
const std::vector<Vector> kVectors = {
    {HpkeAead::kAes128Gcm, "4f6465206f6e2061204772656369616e2055726e", "7268600d403fce431561aef583ee1613527cff655c1343f29812e66706df3234", "37fda3567bdbd628e88668c3c8d7e97d1d1253b6d4ea6d44c150f741f1bf4431", "6db9df30aa07dd42ee5e8181afdb977e538f5e1fec8a06223f33f7013e525037", "3948cfe0ad1ddb695d780e59077195da6c56506b027329794ab02bca80815c4d", "4612c550263fc8ad58375df3f557aac531d26850903e55a9f23f21d8534e8ac8", "4531685d41d65f03dc48f6b8302c05b0", "56d890e5accaaf011cff4b7d", "45ff1c2e220db587171952c0592d5f5ebe103f1561a2614e38f2ffd47e99e3f8",
     {{0, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d30", "f938558b5d72f1a23810b4be2ab4f84331acc02fc97babc53a52ae8218a355a96d8770ac83d07bea87e13c512a"}, {1, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d31", "af2d7e9ac9ae7e270f46ba1f975be53c09f8d875bdc8535458c2494e8a6eab251c03d0c22a56b8ca42c2063b84"}, {2, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d32", "498dfcabd92e8acedc281e85af1cb4e3e31c7dc394a1ca20e173cb72516491588d96a19ad4a683518973dcc180"}, {4, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d34", "583bd32bc67a5994bb8ceaca813d369bca7b2a42408cddef5e22f880b631215a09fc0012bc69fccaa251c0246d"}, {255, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d323535", "7175db9717964058640a3a11fb9007941a5d1757fda1a6935c805c21af32505bf106deefec4a49ac38d71c9e0a"}, {256, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d323536", "957f9800542b0b8891badb026d79cc54597cb2d225b54c00c5238c25d05c30e3fbeda97d2e0e1aba483a2df9f2"}},
     {{"", 32, "3853fe2b4035195a573ffc53856e77058e15d9ea064de3e59f4961d0095250ee"}, {"00", 32, "2e8f0b54673c7029649d4eb9d5e33bf1872cf76d623ff164ac185da9e88c21a5"}, {"54657374436f6e74657874", 32, "e9e43065102c3836401bed8c3c3c75ae46be1639869391d62c61f1ec7af54931"}}},
    {HpkeAead::kChaCha20Poly1305, "4f6465206f6e2061204772656369616e2055726e", "909a9b35d3dc4713a5e72a4da274b55d3d3821a37e5d099e74a647db583a904b", "1afa08d3dec047a643885163f1180476fa7ddb54c6a8029ea33f95796bf2ac4a", "1ac01f181fdf9f352797655161c58b75c656a6cc2716dcb66372da835542e1df", "4310ee97d88cc1f088a5576c77ab0cf5c3ac797f3d95139c6c84b5429c59662a", "8057991eef8f1f1af18f4a9491d16a1ce333f695d4db8e38da75975c4478e0fb", "ad2744de8e17f4ebba575b3f5f5a8fa1f69c2a07f6e7500bc60ca6e3e3ec1c91", "5c4d98150661b848853b547f", "a3b010d4994890e2c6968a36f64470d3c824c8f5029942feb11e7a74b2921922",
     {{0, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d30", "1c5250d8034ec2b784ba2cfd69dbdb8af406cfe3ff938e131f0def8c8b60b4db21993c62ce81883d2dd1b51a28"}, {1, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d31", "6b53c051e4199c518de79594e1c4ab18b96f081549d45ce015be002090bb119e85285337cc95ba5f59992dc98c"}, {2, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d32", "71146bd6795ccc9c49ce25dda112a48f202ad220559502cef1f34271e0cb4b02b4f10ecac6f48c32f878fae86b"}, {4, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d34", "63357a2aa291f5a4e5f27db6baa2af8cf77427c7c1a909e0b37214dd47db122bb153495ff0b02e9e54a50dbe16"}, {255, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d323535", "18ab939d63ddec9f6ac2b60d61d36a7375d2070c9b683861110757062c52b8880a5f6b3936da9cd6c23ef2a95c"}, {256, "4265617574792069732074727574682c20747275746820626561757479", "436f756e742d323536", "7a4a13e9ef23978e2c520fd4d2e757514ae160cd0cd05e556ef692370ca53076214c0c40d4c728d6ed9e727a5b"}},
     {{"", 32, "4bbd6243b8bb54cec311fac9df81841b6fd61f56538a775e7c80a9f40160606e"}, {"00", 32, "8c1df14732580e5501b00f82b10a1647b40713191b7c1240ac80e2b68808ba69"}, {"54657374436f6e74657874", 32, "5acb09211139c43b3090489a9da433e8a30ee7188ba8b0a9a1ccf0c229283e53"}}},
};

TEST(Hpke, Rfc9180BaseModeVectors) {
  for (const auto& v : kVectors) {
    SCOPED_TRACE(static_cast<int>(v.aead));
    EXPECT_EQ(hpke_derive_key_pair(hex(v.ikm_e)).public_key, hex(v.pk_e));
    HpkeKeyPair r = hpke_derive_key_pair(hex(v.ikm_r));
    EXPECT_EQ(r.public_key, hex(v.pk_r));
    EXPECT_EQ(to_bytes(r.secret.view()), hex(v.sk_r));
    auto s = hpke_setup_base_s(r.public_key, hex(v.info), v.aead, hex(v.ikm_e));
    ASSERT_TRUE(s.ok()) << s.error().to_string();
    EXPECT_EQ(s->enc, hex(v.pk_e));
    auto rc = hpke_setup_base_r(s->enc, r.secret, hex(v.info), v.aead);
    ASSERT_TRUE(rc.ok()) << rc.error().to_string();
    for (const auto& e : v.encryptions) {
      // Both sides step to the vector's sequence number with messages of their own.
      while (s->context.sequence() < e.seq) {
        auto filler = s->context.seal({}, Bytes{1});
        ASSERT_TRUE(rc->open({}, filler.value()).ok());
      }
      auto ct = s->context.seal(hex(e.aad), hex(e.pt));
      ASSERT_TRUE(ct.ok());
      EXPECT_EQ(to_hex(*ct), e.ct) << "sequence " << e.seq;
      auto pt = rc->open(hex(e.aad), *ct);
      ASSERT_TRUE(pt.ok()) << pt.error().to_string();
      EXPECT_EQ(to_bytes(pt->view()), hex(e.pt));
    }
    for (const auto& x : v.exports) {
      EXPECT_EQ(to_hex(s->context.export_secret(hex(x.context), x.length).value().view()), x.value);
      EXPECT_EQ(to_hex(rc->export_secret(hex(x.context), x.length).value().view()), x.value);
    }
  }
}

TEST(Hpke, SingleShotRefusesWhatWasNotSealedForIt) {
  HpkeKeyPair r = hpke_generate_key_pair(), other = hpke_generate_key_pair();
  Bytes info = to_bytes("supernet key release"), aad = to_bytes("resource");
  auto sealed = hpke_seal(r.public_key, info, aad, to_bytes("a key part"));
  ASSERT_TRUE(sealed.ok());
  EXPECT_EQ(sealed->size(), kHpkeEncBytes + 10 + kHpkeTagBytes);
  EXPECT_EQ(to_string(hpke_open(r.secret, info, aad, *sealed).value().view()), "a key part");
  EXPECT_EQ(hpke_open(other.secret, info, aad, *sealed).error().code, "hpke.open");
  EXPECT_EQ(hpke_open(r.secret, to_bytes("other info"), aad, *sealed).error().code, "hpke.open");
  EXPECT_EQ(hpke_open(r.secret, info, to_bytes("other"), *sealed).error().code, "hpke.open");
  for (size_t i = 0; i < sealed->size(); i += 7) {
    Bytes altered = *sealed;
    altered[i] ^= 0x40;
    EXPECT_FALSE(hpke_open(r.secret, info, aad, altered).ok()) << i;
  }
  EXPECT_FALSE(hpke_open(r.secret, info, aad, Bytes(40, 0)).ok());
  // A low-order public key (all zero) gives an all-zero shared secret: refused.
  EXPECT_EQ(hpke_seal(Bytes(32, 0), info, aad, Bytes{1}).error().code, "hpke.public_key");
  EXPECT_EQ(hpke_seal(Bytes(31, 1), info, aad, Bytes{1}).error().code, "hpke.public_key");
  EXPECT_FALSE(HpkeContext(HpkeAead::kAes256Gcm, crypto::SecureBytes(32), Bytes(12), crypto::SecureBytes(32)).export_secret({}, 0).ok());
}


// RFC 9591 appendix E.1, FROST(Ed25519, SHA-512): t = 2 of n = 3, participants 1 and 3.
TEST(Frost, Rfc9591Ed25519Vectors) {
  auto scalar = [](std::string_view h) { return crypto::SecureBytes(hex(h)); };
  auto element = [](std::string_view h) { return frost::parse_element(hex(h)).value(); };
  auto shares = frost::split(scalar("7b1c33d3f5291d85de664833beb1ad469f7fb6025a0ec78b3a790c6e13a98304"), {scalar("178199860edd8c62f5212ee91eff1295d0d670ab4ed4506866bae57e7030b204")}, 3);
  ASSERT_TRUE(shares.ok()) << shares.error().to_string();
  EXPECT_EQ(to_hex((*shares)[0].group_public_key), "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673");
  const char* expected_shares[] = {"929dcc590407aae7d388761cddb0c0db6f5627aea8e217f4a033f2ec83d93509", "a91e66e012e4364ac9aaa405fcafd370402d9859f7b6685c07eed76bf409e80d", "d3cb090a075eb154e82fdb4b3cb507f110040905468bb9c46da8bdea643a9a02"};
  for (int k = 0; k < 3; k++) EXPECT_EQ(to_hex((*shares)[k].secret.view()), expected_shares[k]);
  Bytes message = hex("74657374");
  struct Round1 { int id; const char *hr, *br, *hn, *bn, *hc, *bc, *bfi, *bf, *share; };
  const Round1 signers[] = {
      {1, "0fd2e39e111cdc266f6c0f4d0fd45c947761f1f5d3cb583dfcb9bbaf8d4c9fec", "69cd85f631d5f7f2721ed5e40519b1366f340a87c2f6856363dbdcda348a7501", "812d6104142944d5a55924de6d49940956206909f2acaeedecda2b726e630407", "b1110165fc2334149750b28dd813a39244f315cff14d4e89e6142f262ed83301", "b5aa8ab305882a6fc69cbee9327e5a45e54c08af61ae77cb8207be3d2ce13de3", "67e98ab55aa310c3120418e5050c9cf76cf387cb20ac9e4b6fdb6f82a469f932", "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673504df914fa965023fb75c25ded4bb260f417de6d32e5c442c6ba313791cc9a4948d6273e8d3511f93348ea7a708a9b862bc73ba2a79cfdfe07729a193751cbc973af46d8ac3440e518d4ce440a0e7d4ad5f62ca8940f32de6d8dc00fc12c660b817d587d82f856d277ce6473cae6d2f5763f7da2e8b4d799a3f3e725d4522ec70100000000000000000000000000000000000000000000000000000000000000", "f2cb9d7dd9beff688da6fcc83fa89046b3479417f47f55600b106760eb3b5603", "001719ab5a53ee1a12095cd088fd149702c0720ce5fd2f29dbecf24b7281b603"},
      {3, "86d64a260059e495d0fb4fcc17ea3da7452391baa494d4b00321098ed2a0062f", "13e6b25afb2eba51716a9a7d44130c0dbae0004a9ef8d7b5550c8a0e07c61775", "c256de65476204095ebdc01bd11dc10e57b36bc96284595b8215222374f99c0e", "243d71944d929063bc51205714ae3c2218bd3451d0214dfb5aeec2a90c35180d", "cfbdb165bd8aad6eb79deb8d287bcc0ab6658ae57fdcc98ed12c0669e90aec91", "7487bc41a6e712eea2f2af24681b58b1cf1da278ea11fe4e8b78398965f13552", "15d21ccd7ee42959562fc8aa63224c8851fb3ec85a3faf66040d380fb9738673504df914fa965023fb75c25ded4bb260f417de6d32e5c442c6ba313791cc9a4948d6273e8d3511f93348ea7a708a9b862bc73ba2a79cfdfe07729a193751cbc973af46d8ac3440e518d4ce440a0e7d4ad5f62ca8940f32de6d8dc00fc12c660b817d587d82f856d277ce6473cae6d2f5763f7da2e8b4d799a3f3e725d4522ec70300000000000000000000000000000000000000000000000000000000000000", "b087686bf35a13f3dc78e780a34b0fe8a77fef1b9938c563f5573d71d8d7890f", "bd86125de990acc5e1f13781d8e32c03a9bbd4c53539bbc106058bfd14326007"},
  };
  std::vector<frost::Commitment> commitments;
  std::vector<frost::Nonces> nonces;
  for (const auto& s : signers) {
    const frost::KeyShare& share = (*shares)[static_cast<size_t>(s.id - 1)];
    EXPECT_EQ(to_hex(frost::nonce_generate(share.secret, hex(s.hr)).view()), s.hn);
    EXPECT_EQ(to_hex(frost::nonce_generate(share.secret, hex(s.br)).view()), s.bn);
    auto c = frost::commit(share, hex(s.hr), hex(s.br));
    ASSERT_TRUE(c.ok());
    EXPECT_EQ(to_hex(c->second.hiding), s.hc);
    EXPECT_EQ(to_hex(c->second.binding), s.bc);
    nonces.push_back(std::move(c->first));
    commitments.push_back(c->second);
  }
  auto factors = frost::binding_factors((*shares)[0].group_public_key, commitments, message);
  ASSERT_TRUE(factors.ok());
  std::vector<Bytes> sig_shares;
  std::vector<frost::Element> publics;
  for (size_t k = 0; k < 2; k++) {
    EXPECT_EQ(to_hex((*factors)[k].view()), signers[k].bf);
    const frost::KeyShare& share = (*shares)[static_cast<size_t>(signers[k].id - 1)];
    auto z = frost::sign(share, nonces[k], commitments, message);
    ASSERT_TRUE(z.ok()) << z.error().to_string();
    EXPECT_EQ(to_hex(*z), signers[k].share);
    EXPECT_FALSE(frost::sign(share, nonces[k], commitments, message).ok());  // nonces are used once
    sig_shares.push_back(*z);
    publics.push_back(share.public_share);
  }
  auto sig = frost::aggregate(commitments, message, (*shares)[0].group_public_key, sig_shares, publics);
  ASSERT_TRUE(sig.ok()) << sig.error().to_string();
  EXPECT_EQ(to_hex(*sig), "36282629c383bb820a88b71cae937d41f2f2adfcc3d02e55507e2fb9e2dd3cbebd9d2b0844e49ae0f3fa935161e1419aab7b47d21a37ebeae1f17d4987b3160b");
  // Any Ed25519 verifier accepts it.
  EXPECT_TRUE(crypto::ed25519_verify(Bytes((*shares)[0].group_public_key.begin(), (*shares)[0].group_public_key.end()), message, *sig));
  (void)element;
}

TEST(Frost, AnyTOfNSignsAndABadShareIsNamed) {
  crypto::SecureBytes secret(32);
  {
    Bytes wide = crypto::random_bytes(64);
    crypto_core_ed25519_scalar_reduce(secret.data(), wide.data());
  }
  std::vector<crypto::SecureBytes> coefficients;
  for (int k = 0; k < 2; k++) {
    Bytes wide = crypto::random_bytes(64);
    crypto::SecureBytes c(32);
    crypto_core_ed25519_scalar_reduce(c.data(), wide.data());
    coefficients.push_back(c);
  }
  auto shares = frost::split(secret, coefficients, 5);  // t = 3
  ASSERT_TRUE(shares.ok());
  const frost::Element& group = (*shares)[0].group_public_key;
  Bytes pk(group.begin(), group.end()), message = to_bytes("checkpoint 42");
  auto run = [&](const std::vector<int>& who, int corrupt) -> Result<Bytes> {
    std::vector<frost::Commitment> commitments;
    std::vector<frost::Nonces> nonces;
    for (int id : who) {
      auto c = frost::commit((*shares)[static_cast<size_t>(id - 1)]);
      if (!c.ok()) return c.error();
      nonces.push_back(std::move(c->first));
      commitments.push_back(c->second);
    }
    std::vector<Bytes> sig_shares;
    std::vector<frost::Element> publics;
    for (size_t k = 0; k < who.size(); k++) {
      const auto& share = (*shares)[static_cast<size_t>(who[k] - 1)];
      SN_ASSIGN(Bytes z, frost::sign(share, nonces[k], commitments, message));
      if (who[k] == corrupt) z[0] ^= 1;
      sig_shares.push_back(z);
      publics.push_back(share.public_share);
    }
    return frost::aggregate(commitments, message, group, sig_shares, publics);
  };
  for (const auto& who : std::vector<std::vector<int>>{{1, 2, 3}, {2, 4, 5}, {1, 3, 5}, {1, 2, 3, 4, 5}}) {
    auto sig = run(who, 0);
    ASSERT_TRUE(sig.ok()) << sig.error().to_string();
    EXPECT_TRUE(crypto::ed25519_verify(pk, message, *sig));
    EXPECT_FALSE(crypto::ed25519_verify(pk, to_bytes("another"), *sig));
  }
  // Two signers are below the threshold: their "signature" does not verify.
  auto two = run({1, 2}, 0);
  ASSERT_TRUE(two.ok());
  EXPECT_FALSE(crypto::ed25519_verify(pk, message, *two));
  auto bad = run({1, 4, 5}, 4);
  EXPECT_EQ(bad.error().code, "frost.share");
  EXPECT_NE(bad.error().message.find("signer 4"), std::string::npos) << bad.error().message;
  // Inputs from outside: ordering, identity and non-canonical encodings, duplicates.
  auto c1 = frost::commit((*shares)[0]).value().second, c2 = frost::commit((*shares)[1]).value().second;
  EXPECT_EQ(frost::binding_factors(group, {c2, c1}, message).error().code, "frost.commitments");
  EXPECT_EQ(frost::binding_factors(group, {c1, c1}, message).error().code, "frost.commitments");
  frost::Commitment forged = c2;
  forged.hiding = frost::Element{1};  // the identity
  EXPECT_EQ(frost::binding_factors(group, {c1, forged}, message).error().code, "frost.commitments");
  EXPECT_FALSE(frost::parse_element(Bytes{1, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0}).ok());
  EXPECT_FALSE(frost::parse_element(Bytes(31, 1)).ok());
  // The group order L itself is not a canonical scalar; L - 1 is.
  Bytes order = hex("edd3f55c1a631258d69cf7a2def9de1400000000000000000000000000000010");
  EXPECT_EQ(frost::parse_scalar(order).error().code, "frost.scalar");
  order[0]--;
  EXPECT_TRUE(frost::parse_scalar(order).ok());
  EXPECT_FALSE(frost::lagrange_at_zero(1, {1, 2, 2}).ok());
  EXPECT_FALSE(frost::lagrange_at_zero(3, {1, 2}).ok());
  EXPECT_FALSE(frost::split(secret, coefficients, 2).ok());  // t = 3 > n = 2
}

}  // namespace
}  // namespace supernet::keys
