// supernet attest: evidence, verify, inspect, platform-key, dev-policy.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <nlohmann/json.hpp>

#include "cbor/cbor.h"
#include "cli/commands.h"
#include "crypto/x509.h"
#include "tee/cose.h"
#include "tee/dcap_quote.h"
#include "tee/evidence.h"
#include "tee/policy.h"
#include "tee/snp.h"
#include "tee/tpm.h"
#include "tee/virtual_platform.h"
#include "util/file.h"

namespace supernet::cli {

namespace {

struct EvidenceArgs {
  PlatformFlags platform;
  std::string report_data_hex;
  std::string out;
};

int run_evidence(const EvidenceArgs& a) {
  auto rd = from_hex(a.report_data_hex);
  if (!rd.ok()) return fail(rd.error());
  if (rd->size() > tee::kReportDataBytes) {
    return fail(make_error("usage.report_data", "--report-data is at most 64 bytes (128 hex digits)"));
  }
  rd->resize(tee::kReportDataBytes, 0);  // shorter report data is zero-padded, as hardware does
  auto p = a.platform.open();
  if (!p.ok()) return fail(p.error());
  auto ev = (*p)->evidence(*rd);
  if (!ev.ok()) return fail(ev.error(), kExitCheckFailed);
  auto w = write_file_atomic(a.out, *ev);
  if (!w.ok()) return fail(w.error());
  std::printf("wrote %zu bytes of %s evidence to %s\n", ev->size(), tee::kind_name((*p)->kind()), a.out.c_str());
  return kExitOk;
}

struct VerifyArgs {
  std::string file;
  std::string platform;
  std::vector<std::string> collateral;
  std::string policy;
  std::string at;
  std::string report_data_hex;
  bool json = false;
};

void print_claims_text(const tee::Claims& c) {
  std::printf("platform:     %s\n", tee::kind_name(c.platform));
  std::printf("measurement:  %s\n", to_hex(c.measurement).c_str());
  for (const auto& [n, v] : c.measurements) std::printf("  %-12s %s\n", (n + ":").c_str(), to_hex(v).c_str());
  std::printf("report data:  %s\n", to_hex(c.report_data).c_str());
  if (!c.host_data.empty()) std::printf("host data:    %s\n", to_hex(c.host_data).c_str());
  if (!c.signer.empty()) std::printf("signer:       %s\n", to_hex(c.signer).c_str());
  if (!c.chip_id.empty()) std::printf("chip id:      %s\n", to_hex(c.chip_id).c_str());
  std::printf("debug:        %s\n", c.debug ? "yes" : "no");
  std::printf("tcb status:   %s\n", c.tcb_status.c_str());
  if (!c.advisories.empty()) {
    std::string all;
    for (const auto& a : c.advisories) all += (all.empty() ? "" : ", ") + a;
    std::printf("advisories:   %s\n", all.c_str());
  }
  std::string tcb;
  for (const auto& [k, v] : c.tcb) tcb += (tcb.empty() ? "" : " ") + k + "=" + std::to_string(v);
  std::printf("tcb:          %s\n", tcb.c_str());
  for (const auto& [k, v] : c.attributes) std::printf("%-13s %s\n", (k + ":").c_str(), v.c_str());
  if (c.issued_at) std::printf("issued at:    %s\n", format_rfc3339(*c.issued_at).c_str());
  for (const auto& n : c.notes) std::printf("note:         %s\n", n.c_str());
}

int run_verify(const VerifyArgs& a) {
  auto ev = read_file(a.file, tee::kEvidenceBytesMax);
  if (!ev.ok()) return fail(ev.error());
  tee::Collateral col;
  for (const auto& c : a.collateral) {
    auto s = col.add_path(c);
    if (!s.ok()) return fail(s.error());
  }
  UnixSeconds at = now_unix();
  if (!a.at.empty()) {
    auto t = parse_rfc3339(a.at);
    if (!t.ok()) return fail(t.error());
    at = *t;
  }
  std::optional<tee::Kind> expected;
  if (!a.platform.empty()) {
    auto k = tee::parse_kind(a.platform);
    if (!k.ok()) return fail(k.error());
    expected = *k;
  }
  std::optional<tee::Policy> policy;
  if (!a.policy.empty()) {
    auto p = tee::load_policy(a.policy);
    if (!p.ok()) return fail(p.error());
    policy = *p;
  }
  std::optional<Bytes> report_data;
  if (!a.report_data_hex.empty()) {
    auto rd = from_hex(a.report_data_hex);
    if (!rd.ok()) return fail(rd.error());
    report_data = *rd;
  }

  nlohmann::json out;
  out["file"] = a.file;
  out["checked_at"] = format_rfc3339(at);
  std::vector<std::string> failed;
  auto claims = tee::verify_evidence(*ev, col, at, expected);
  if (!claims.ok()) {
    failed.push_back(claims.error().to_string());
    out["evidence_verified"] = false;
  } else {
    // Hardware pads report data to 64 bytes; pad the expected value the same way.
    if (report_data && report_data->size() < claims->report_data.size() && claims->report_data.size() == tee::kReportDataBytes) {
      report_data->resize(tee::kReportDataBytes, 0);
    }
    out["evidence_verified"] = true;
    out["claims"] = tee::claims_to_json(*claims);
    if (policy) {
      tee::Appraisal ap = tee::appraise(*policy, *claims, at, report_data ? std::optional<ByteView>(*report_data) : std::nullopt);
      for (const auto& f : ap.failures) failed.push_back("policy: " + f);
      out["policy_passed"] = ap.pass();
    } else if (report_data && !crypto::ct_equal(*report_data, claims->report_data)) {
      failed.push_back("report data does not match --report-data");
    }
  }
  out["failed_checks"] = failed;
  bool ok = failed.empty();
  out["verdict"] = ok ? "pass" : "fail";
  if (a.json) {
    std::cout << out.dump(2) << "\n";
  } else {
    if (claims.ok()) print_claims_text(*claims);
    for (const auto& f : failed) std::printf("FAILED:       %s\n", f.c_str());
    std::printf("verdict:      %s%s\n", ok ? "PASS" : "FAIL",
                ok && !policy ? " (evidence verified; no --policy given, nothing appraised)" : "");
  }
  return ok ? kExitOk : kExitCheckFailed;
}

void inspect_snp(ByteView d) {
  auto r = tee::parse_snp_report(d);
  if (!r.ok()) {
    std::printf("unparseable SNP report: %s\n", r.error().to_string().c_str());
    return;
  }
  bool turin = r->cpuid_family == 0x1A;
  auto tcb = [&](uint64_t raw) {
    auto t = tee::decode_snp_tcb(raw, turin);
    char b[96];
    snprintf(b, sizeof b, "bl=%u tee=%u snp=%u ucode=%u%s (raw 0x%016llx)", t.bootloader, t.tee, t.snp, t.microcode,
             turin ? (" fmc=" + std::to_string(t.fmc)).c_str() : "", static_cast<unsigned long long>(raw));
    return std::string(b);
  };
  std::printf("AMD SEV-SNP attestation report, version %u\n", r->version);
  std::printf("  guest svn      %u\n  policy         0x%llx (debug %s, migrate_ma %s, smt %s)\n  vmpl           %u\n",
              r->guest_svn, static_cast<unsigned long long>(r->policy), r->debug() ? "yes" : "no",
              r->migrate_ma() ? "yes" : "no", r->smt_allowed() ? "allowed" : "no", r->vmpl);
  std::printf("  signing key    %s\n", r->signing_key() == 0 ? "VCEK" : r->signing_key() == 1 ? "VLEK" : "other");
  std::printf("  measurement    %s\n  report data    %s\n  host data      %s\n", to_hex(r->measurement).c_str(),
              to_hex(r->report_data).c_str(), to_hex(r->host_data).c_str());
  std::printf("  id key digest  %s\n  chip id        %s\n", to_hex(r->id_key_digest).c_str(), to_hex(r->chip_id).c_str());
  std::printf("  cpuid          fam 0x%02x model 0x%02x stepping 0x%02x\n", r->cpuid_family, r->cpuid_model, r->cpuid_stepping);
  std::printf("  current tcb    %s\n  reported tcb   %s\n  committed tcb  %s\n  launch tcb     %s\n", tcb(r->current_tcb).c_str(),
              tcb(r->reported_tcb).c_str(), tcb(r->committed_tcb).c_str(), tcb(r->launch_tcb).c_str());
  std::printf("  firmware       %u.%u build %u\n", r->current_major, r->current_minor, r->current_build);
}

void inspect_dcap(ByteView d) {
  auto q = tee::parse_dcap_quote(d);
  if (!q.ok()) {
    std::printf("unparseable DCAP quote: %s\n", q.error().to_string().c_str());
    return;
  }
  std::printf("Intel DCAP quote, version %u, %s body (%zu bytes), %zu trailing bytes\n", q->version,
              q->is_tdx() ? "TD report" : "SGX enclave report", q->body.size(), q->trailing_bytes);
  std::printf("  qe svn %u, pce svn %u, qe vendor %s\n", q->qe_svn, q->pce_svn, to_hex(q->qe_vendor_id).c_str());
  if (q->is_tdx()) {
    auto t = tee::parse_td_report_body(q->body).value();
    std::printf("  tee tcb svn    %s\n  mr seam        %s\n  td attributes  %s (debug %s)\n  xfam           %s\n",
                to_hex(t.tee_tcb_svn).c_str(), to_hex(t.mr_seam).c_str(), to_hex(t.td_attributes).c_str(),
                t.debug() ? "yes" : "no", to_hex(t.xfam).c_str());
    std::printf("  mr td          %s\n  mr config id   %s\n", to_hex(t.mr_td).c_str(), to_hex(t.mr_config_id).c_str());
    for (size_t i = 0; i < 4; i++) std::printf("  rtmr%zu          %s\n", i, to_hex(t.rtmr[i]).c_str());
    std::printf("  report data    %s\n", to_hex(t.report_data).c_str());
  } else {
    auto b = tee::parse_sgx_report_body(q->body).value();
    std::printf("  mr enclave     %s\n  mr signer      %s\n  isv prod id %u, isv svn %u\n  attributes     %s (debug %s)\n",
                to_hex(b.mr_enclave).c_str(), to_hex(b.mr_signer).c_str(), b.isv_prod_id, b.isv_svn,
                to_hex(b.attributes).c_str(), b.debug() ? "yes" : "no");
    std::printf("  report data    %s\n", to_hex(b.report_data).c_str());
  }
  std::printf("  certification data type %u (%zu bytes)\n", q->cert_type, q->cert_data.size());
  if (q->cert_type == 5) {
    auto certs = crypto::Certificate::all_from_pem(to_string(q->cert_data));
    if (certs.ok()) {
      for (const auto& c : *certs) {
        std::printf("    %s, valid %s .. %s\n", c.subject().c_str(), format_rfc3339(c.not_before()).c_str(),
                    format_rfc3339(c.not_after()).c_str());
      }
    }
  }
}

int run_inspect(const std::string& file) {
  auto ev = read_file(file, tee::kEvidenceBytesMax);
  if (!ev.ok()) return fail(ev.error());
  auto kind = tee::detect_kind(*ev);
  if (!kind.ok()) return fail(kind.error());
  std::printf("%s: %zu bytes, %s evidence (not verified; use `supernet attest verify`)\n", file.c_str(), ev->size(),
              tee::kind_name(*kind));
  switch (*kind) {
    case tee::Kind::kSevSnp:
      inspect_snp(*ev);
      break;
    case tee::Kind::kSgx:
    case tee::Kind::kTdx:
      inspect_dcap(*ev);
      break;
    case tee::Kind::kCca: {
      auto v = cbor::decode(*ev).value();
      for (const auto& [k, inner] : v.tagged().as_map()) {
        std::printf("  %s token:\n", k.as_int() == 44234 ? "platform" : "realm");
        auto m = tee::parse_cose_sign1(inner.as_bytes());
        if (m.ok()) std::printf("    alg %lld, claims %s\n", static_cast<long long>(m->alg),
                                cbor::diagnostic(cbor::decode(m->payload).value_or(cbor::Value())).c_str());
      }
      break;
    }
    case tee::Kind::kTpm: {
      auto a = tee::parse_tpm_attestation(*ev);
      if (!a.ok()) return fail(a.error());
      std::printf("  TPM 2.0 attestation: %zu quotes, AK certificate %s\n", a->quotes.size(),
                  a->ak_cert.empty() ? "absent" : "present");
      for (const auto& q : a->quotes) {
        auto t = tee::parse_tpms_attest(q.attest);
        if (!t.ok()) {
          std::printf("    quote: %s\n", t.error().to_string().c_str());
          continue;
        }
        std::printf("    quote: bank 0x%04x, %zu PCRs, nonce %s, pcrDigest %s, firmware 0x%016llx\n", q.pcr_bank,
                    q.pcrs.size(), to_hex(t->extra_data).c_str(), to_hex(t->pcr_digest).c_str(),
                    static_cast<unsigned long long>(t->firmware_version));
      }
      break;
    }
    case tee::Kind::kPsa:
    case tee::Kind::kVirtual: {
      auto m = tee::parse_cose_sign1(*ev);
      if (!m.ok()) return fail(m.error());
      auto payload = cbor::decode(m->payload);
      std::printf("  COSE_Sign1 alg %lld\n  claims %s\n", static_cast<long long>(m->alg),
                  payload.ok() ? cbor::diagnostic(*payload).c_str() : "(payload is not CBOR)");
      break;
    }
  }
  return kExitOk;
}

int run_platform_key(const PlatformFlags& f) {
  std::string dir = f.virtual_dir.empty() ? tee::default_virtual_dir() : f.virtual_dir;
  auto p = tee::VirtualPlatform::open(dir);
  if (!p.ok()) return fail(p.error());
  std::printf("virtual platform key id: %s\n%s", (*p)->platform_key_id().c_str(), (*p)->platform_key().pem().c_str());
  return kExitOk;
}

struct DevPolicyArgs {
  PlatformFlags platform;
  std::string out;
  std::string program;  // empty: the node program
};

int run_dev_policy(const DevPolicyArgs& a) {
  std::string dir = a.platform.virtual_dir.empty() ? tee::default_virtual_dir() : a.platform.virtual_dir;
  auto p = tee::VirtualPlatform::open(dir);
  if (!p.ok()) return fail(p.error());
  std::string program = a.program.empty() ? node_program() : a.program;
  auto measurement = tee::measure_executable(program);
  if (!measurement.ok()) return fail(measurement.error());
  tee::Policy policy;
  policy.production = false;
  policy.allowed_platforms = {tee::Kind::kVirtual};
  policy.trusted_virtual_platform_keys = {from_hex((*p)->platform_key_id()).value()};
  policy.platforms[tee::Kind::kVirtual].measurements = {*measurement};
  policy.platforms[tee::Kind::kVirtual].min_tcb = {{"svn", tee::kVirtualSvn}};
  std::string text = "# Development policy: trusts this machine's virtual platform key and the program " +
                     std::filesystem::path(program).filename().string() +
                     " of this build.\n# Never use it in production: the virtual platform is not a TEE.\n" + tee::policy_to_toml(policy);
  auto w = write_file_atomic(a.out, as_bytes(text));
  if (!w.ok()) return fail(w.error());
  std::printf("wrote development policy to %s (platform key %s, measurement of %s %s)\n", a.out.c_str(),
              (*p)->platform_key_id().substr(0, 16).c_str(), program.c_str(), to_hex(*measurement).substr(0, 16).c_str());
  return kExitOk;
}

struct CollateralAddArgs {
  std::vector<std::string> files;
  std::string dir = "supernet-net";
  int node = 0;
};

// Copies collateral files into each node's collateral folder (its node.toml says where); each
// running node notices within a second, loads it, and appraises its live peers again.
int run_collateral_add(const CollateralAddArgs& a) {
  // Each file must be collateral (a certificate, CRL, TCB info, QE identity, public key) first.
  for (const auto& f : a.files) {
    tee::Collateral check;
    if (auto s = check.add_file(f); !s.ok()) return fail(make_error("collateral.file", s.error().message));
  }
  int n = count_nodes(a.dir);
  if (n == 0) return fail(make_error("usage.dir", a.dir + " holds no node folders (node-1, ...): give the network folder with --dir"));
  if (a.node < 0 || a.node > n) return fail(make_error("usage.node", "the network has no node " + std::to_string(a.node)));
  int copied = 0;
  for (int i = 1; i <= n; i++) {
    if (a.node != 0 && i != a.node) continue;
    auto cfg = node::load_node_config(node_dir(a.dir, i) + "/node.toml");
    if (!cfg.ok()) return fail(cfg.error());
    std::error_code ec;
    std::filesystem::create_directories(cfg->collateral, ec);
    if (ec) return fail(make_error("collateral.dir", "cannot make " + cfg->collateral + ": " + ec.message()));
    for (const auto& f : a.files) {
      auto bytes = read_file(f, 16 * 1024 * 1024);
      if (!bytes.ok()) return fail(bytes.error());
      std::string to = cfg->collateral + "/" + std::filesystem::path(f).filename().string();
      if (auto w = write_file_atomic(to, *bytes, 0644); !w.ok()) return fail(w.error());
      copied++;
    }
    std::printf("node %d: added %zu file(s) to %s; the node appraises its peers again within a second\n", i, a.files.size(),
                cfg->collateral.c_str());
  }
  return copied > 0 ? kExitOk : kExitCheckFailed;
}

}  // namespace

void add_attest_commands(CLI::App& app, int* exit_code) {
  CLI::App* attest = app.add_subcommand("attest", "Produce, verify and inspect TEE attestation evidence");
  attest->require_subcommand(1);

  auto ev = std::make_shared<EvidenceArgs>();
  CLI::App* evidence = attest->add_subcommand("evidence", "Produce evidence on this machine binding the given report data");
  evidence->add_option("--report-data", ev->report_data_hex, "up to 64 bytes as hex (zero-padded to 64)")->required();
  evidence->add_option("--out", ev->out, "file to write the evidence to")->required();
  ev->platform.add_to(evidence);
  evidence->callback([ev, exit_code] { *exit_code = run_evidence(*ev); });

  auto va = std::make_shared<VerifyArgs>();
  CLI::App* verify = attest->add_subcommand(
      "verify",
      "Verify evidence offline (signatures, certificate chains, bindings, TCB status) and appraise it against a policy.\n"
      "Exit 0 only when the evidence verifies and, with --policy, the policy passes.");
  verify->add_option("file", va->file, "evidence file (SNP report, SGX/TDX quote, PSA/CCA token, TPM attestation, virtual evidence)")->required();
  verify->add_option("--platform", va->platform, "refuse evidence of any other kind (sev-snp, sgx, tdx, psa, cca, tpm, virtual)");
  verify->add_option("--collateral", va->collateral,
                     "certificates, CRLs, Intel TCB info / QE identity JSON, public keys; files or directories")
      ->expected(1, -1);
  verify->add_option("--policy", va->policy, "appraisal policy (TOML); see docs/attestation.md");
  verify->add_option("--at", va->at, "verify as of this RFC 3339 time (collateral expires)");
  verify->add_option("--report-data", va->report_data_hex, "require the evidence to bind this report data (hex)");
  verify->add_flag("--json", va->json, "print the claims and every failed check as JSON");
  verify->callback([va, exit_code] { *exit_code = run_verify(*va); });

  auto file = std::make_shared<std::string>();
  CLI::App* inspect = attest->add_subcommand("inspect", "Print the fields of an evidence file without verifying it");
  inspect->add_option("file", *file, "evidence file")->required();
  inspect->callback([file, exit_code] { *exit_code = run_inspect(*file); });

  auto pf = std::make_shared<PlatformFlags>();
  CLI::App* key = attest->add_subcommand("platform-key", "Show this machine's virtual platform key (created on first use)");
  key->add_option("--virtual-dir", pf->virtual_dir, "virtual platform directory");
  key->callback([pf, exit_code] { *exit_code = run_platform_key(*pf); });

  auto dp = std::make_shared<DevPolicyArgs>();
  CLI::App* dev = attest->add_subcommand(
      "dev-policy", "Write a development policy trusting this machine's virtual platform and this build's node program");
  dev->add_option("--virtual-dir", dp->platform.virtual_dir, "virtual platform directory");
  dev->add_option("--out", dp->out, "policy file to write")->required();
  dev->add_option("--program", dp->program,
                  "the program whose measurement the policy allows (default: the node program, supernet-node; give this "
                  "supernet binary to accept the developer tools' own evidence, which no network policy does)");
  dev->callback([dp, exit_code] { *exit_code = run_dev_policy(*dp); });

  CLI::App* collateral = attest->add_subcommand("collateral", "Collateral (certificates, CRLs, TCB info) of running nodes");
  collateral->require_subcommand(1);
  auto ca = std::make_shared<CollateralAddArgs>();
  CLI::App* add = collateral->add_subcommand(
      "add",
      "Give running nodes new collateral (a newer CRL, TCB info, certificates): each file is checked, copied into every node's "
      "collateral folder (or --node N's), and the nodes load it within a second and appraise their live peers again, "
      "disconnecting any that no longer pass (the appraisal in GET /v1/nodes says why)");
  add->add_option("files", ca->files, "collateral files (DER/PEM certificates and CRLs, Intel TCB info / QE identity JSON, PEM public keys)")
      ->required()
      ->expected(1, -1);
  add->add_option("--dir", ca->dir, "the network folder (from `supernet up`)")->capture_default_str();
  add->add_option("--node", ca->node, "only this node (default: every node)");
  add->callback([ca, exit_code] { *exit_code = run_collateral_add(*ca); });
}

}  // namespace supernet::cli
