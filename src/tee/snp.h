// AMD SEV-SNP attestation reports (SEV-SNP Firmware ABI spec, pub. 56860): parsing and
// offline verification against VCEK/VLEK certificates and the pinned AMD roots.
#pragma once

#include "tee/claims.h"
#include "tee/collateral.h"

namespace supernet::tee {

inline constexpr size_t kSnpReportBytes = 0x4A0;
inline constexpr size_t kSnpSignedBytes = 0x2A0;

struct SnpTcb {
  uint8_t fmc = 0, bootloader = 0, tee = 0, snp = 0, microcode = 0;
};

struct SnpReport {
  uint32_t version = 0, guest_svn = 0, vmpl = 0, signature_algo = 0, key_info = 0;
  uint64_t policy = 0, platform_info = 0;
  uint64_t current_tcb = 0, reported_tcb = 0, committed_tcb = 0, launch_tcb = 0;
  uint8_t cpuid_family = 0, cpuid_model = 0, cpuid_stepping = 0;
  uint8_t current_major = 0, current_minor = 0, current_build = 0;
  Bytes family_id, image_id, report_data, measurement, host_data, id_key_digest,
      author_key_digest, report_id, chip_id;
  ByteView signed_bytes;  // report[0, 0x2A0), points into the caller's buffer
  ByteView sig_r_le, sig_s_le;

  uint32_t signing_key() const { return (key_info >> 2) & 7; }  // 0 VCEK, 1 VLEK, 7 none
  bool mask_chip_key() const { return (key_info >> 1) & 1; }
  bool debug() const { return (policy >> 19) & 1; }
  bool migrate_ma() const { return (policy >> 18) & 1; }
  bool smt_allowed() const { return (policy >> 16) & 1; }
};

// Parses the fixed layout; the result refers into `data`, which must outlive it.
Result<SnpReport> parse_snp_report(ByteView data);

// Decodes a TCB_VERSION. Turin (CPUID family 0x1A) uses a different byte layout.
SnpTcb decode_snp_tcb(uint64_t raw, bool turin);

// Verifies signature, VCEK/VLEK chain to a pinned ARK (Milan, Genoa, Turin), and the
// VCEK/VLEK extensions (SPLs == REPORTED_TCB, hwID == CHIP_ID) at time `at`.
Result<Claims> verify_snp(ByteView report, const Collateral& collateral, UnixSeconds at);

// SHA-256 of the SubjectPublicKeyInfo of the AMD ARKs trusted as roots.
const std::vector<Bytes>& amd_root_pins();

}  // namespace supernet::tee
