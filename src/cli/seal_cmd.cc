// supernet seal / unseal: protect a file with the platform's measurement-bound sealing key.
#include <cstdio>

#include "cli/commands.h"
#include "tee/seal.h"
#include "util/file.h"

namespace supernet::cli {

namespace {

struct SealArgs {
  PlatformFlags platform;
  std::string label, in, out;
};

int run(const SealArgs& a, bool sealing) {
  auto input = read_file(a.in);
  if (!input.ok()) return fail(input.error());
  auto p = a.platform.open();
  if (!p.ok()) return fail(p.error());
  if (sealing) {
    auto blob = tee::seal(**p, a.label, *input);
    crypto::zeroize(input->data(), input->size());
    if (!blob.ok()) return fail(blob.error(), kExitCheckFailed);
    auto w = write_file_atomic(a.out, *blob, 0600);
    if (!w.ok()) return fail(w.error());
    std::printf("sealed %s to %s under label '%s' (%s platform)\n", a.in.c_str(), a.out.c_str(), a.label.c_str(),
                tee::kind_name((*p)->kind()));
    return kExitOk;
  }
  // A node's own state (format 2) names its owner; this tool tries it like any blob. It holds
  // the tools' measurement, not the node program's, so a node's blob never unseals here.
  Result<crypto::SecureBytes> plain = make_error("seal.format", "empty");
  if (input->size() >= tee::kBoundSealHeaderBytes && (*input)[6] == 2) {
    auto bound = tee::unseal_bound(**p, a.label, load_be32(input->data() + 8), *input);
    if (bound.ok()) plain = std::move(bound->plaintext);
    else plain = bound.error();
  } else {
    plain = tee::unseal(**p, a.label, *input);
  }
  if (!plain.ok()) return fail(plain.error(), kExitCheckFailed);
  // Plaintext secrets are written only with owner-only permissions.
  auto w = write_file_atomic(a.out, plain->view(), 0600);
  if (!w.ok()) return fail(w.error());
  std::printf("unsealed %s to %s\n", a.in.c_str(), a.out.c_str());
  return kExitOk;
}

void add(CLI::App& app, int* exit_code, bool sealing) {
  auto a = std::make_shared<SealArgs>();
  CLI::App* cmd = app.add_subcommand(sealing ? "seal" : "unseal",
                                     sealing ? "Encrypt a file so only this build on this platform can read it"
                                             : "Decrypt a sealed file (fails for another build, platform or label)");
  cmd->add_option("--label", a->label, "purpose label bound into the blob (must match on unseal)")->required();
  cmd->add_option("--in", a->in, "input file")->required();
  cmd->add_option("--out", a->out, "output file (written 0600)")->required();
  a->platform.add_to(cmd);
  cmd->callback([a, exit_code, sealing] { *exit_code = run(*a, sealing); });
}

}  // namespace

void add_seal_commands(CLI::App& app, int* exit_code) {
  add(app, exit_code, true);
  add(app, exit_code, false);
}

}  // namespace supernet::cli
