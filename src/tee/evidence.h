// Evidence of any supported kind: recognize its format and verify it with the right verifier.
#pragma once

#include <optional>

#include "tee/claims.h"
#include "tee/collateral.h"

namespace supernet::tee {

inline constexpr size_t kEvidenceBytesMax = 64 * 1024;

// Recognizes SNP reports, DCAP quotes (SGX or TDX), CCA tokens, PSA tokens, TPM attestations
// (go-tpm-tools protobuf) and virtual evidence.
Result<Kind> detect_kind(ByteView evidence);

// Verifies signatures, chains and bindings at time `at` and returns the normalized claims.
// When `expected` is set, evidence of another kind is refused.
Result<Claims> verify_evidence(ByteView evidence, const Collateral& collateral, UnixSeconds at,
                               std::optional<Kind> expected = std::nullopt);

}  // namespace supernet::tee
