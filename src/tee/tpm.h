// TPM 2.0 quotes as go-tpm-tools' attest.Attestation protobuf carries them (Google Compute
// Engine vTPM): the AK certificate chain to a pinned root, each quote's RSASSA signature by
// the AK, the nonce (extraData), and each quote's PCR digest recomputed from the PCR values.
// The event log is not replayed.
#pragma once

#include <map>
#include <vector>

#include "tee/claims.h"
#include "tee/collateral.h"

namespace supernet::tee {

struct TpmQuote {
  ByteView attest;     // TPMS_ATTEST bytes, as signed
  ByteView signature;  // TPMT_SIGNATURE
  uint32_t pcr_bank = 0;  // TPM_ALG_ID of the PCR values
  std::map<uint32_t, ByteView> pcrs;
};

struct TpmAttestation {
  ByteView ak_public;  // TPMT_PUBLIC
  std::vector<TpmQuote> quotes;
  ByteView ak_cert;
  std::vector<ByteView> intermediates;
};

struct TpmsAttest {
  uint32_t magic = 0;
  uint16_t type = 0;
  ByteView extra_data;
  uint64_t clock = 0, firmware_version = 0;
  uint32_t reset_count = 0, restart_count = 0;
  struct Selection {
    uint16_t hash = 0;
    std::vector<uint32_t> pcrs;
  };
  std::vector<Selection> selections;
  ByteView pcr_digest;
};

Result<TpmAttestation> parse_tpm_attestation(ByteView data);
Result<TpmsAttest> parse_tpms_attest(ByteView data);

// SHA-256 of the SubjectPublicKeyInfo of the TPM AK roots trusted: the GCE EK/AK root.
const std::vector<Bytes>& tpm_root_pins();

Result<Claims> verify_tpm(ByteView attestation, const Collateral& collateral, UnixSeconds at);

}  // namespace supernet::tee
