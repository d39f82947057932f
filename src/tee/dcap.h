// Offline verification of Intel DCAP quotes (SGX v3, TDX v4/v5): quote and QE report
// signatures, the QE report's binding of the attestation key, the PCK chain to the pinned
// Intel SGX Root CA key, CRLs, and the TCB status from signed TCB info and QE identity.
#pragma once

#include "tee/claims.h"
#include "tee/collateral.h"
#include "tee/dcap_quote.h"

namespace supernet::tee {

// SPKI SHA-256 of the Intel SGX Root CA key.
const Bytes& intel_root_pin();

// The PCK certificate's SGX extension (OID 1.2.840.113741.1.13.1).
struct PckExtension {
  Bytes ppid, fmspc, pce_id, cpu_svn;
  std::array<uint64_t, 16> comp_svn{};
  uint64_t pce_svn = 0;
  int sgx_type = -1;
};
Result<PckExtension> parse_pck_extension(ByteView ext_value);

// Verifies at time `at`. With TCB info (and QE identity) for the quote's FMSPC in `collateral`
// the claims carry the TCB status; without, tcb_status is "not evaluated" and a note says so.
Result<Claims> verify_dcap(ByteView quote, const Collateral& collateral, UnixSeconds at);

// QVL's merge of the platform TCB status with the QE's (any OutOfDate part makes the
// result OutOfDate-class; Revoked dominates).
std::string merge_tcb_status(const std::string& platform, const std::string& other);

}  // namespace supernet::tee
