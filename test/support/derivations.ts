/**
 * Derivations shaped like nixpkgs' for the end-to-end builds, for either guest architecture: an input
 * built on the builder and read by a second derivation that needs a feature only the builder offers.
 * Each says which kernel built it, so the output proves both ran in the guest. The builder is the
 * guest sandbox's /bin/sh (bash-static): nothing comes from the host, whatever its own system.
 */
import { ARCHITECTURES, type Arch } from "../../src/image/guest/profile.js";

/** The kernel release of Debian's cloud kernel for `arch`, as /proc/sys/kernel/osrelease says it. */
const cloudKernel = (arch: Arch) => `6\\.\\d+\\.\\d+\\+deb\\d+-cloud-${arch}`;

/** The Nix expression for `arch`'s system; `name` prefixes both derivations, `nonce` makes them new. */
export function twoStageBuild(name: string, arch: Arch = "amd64", nonce = String(Date.now())): string {
  const system = ARCHITECTURES[arch].nixSystem;
  return `
      let
        input = derivation {
          name = "${name}-input"; system = "${system}"; builder = "/bin/sh"; nonce = "${nonce}";
          args = [ "-c" "read r < /proc/sys/kernel/osrelease; echo \\"input built on $r\\" > $out" ];
        };
      in derivation {
        name = "${name}-output"; system = "${system}"; builder = "/bin/sh"; nonce = "${nonce}";
        requiredSystemFeatures = [ "big-parallel" ];
        args = [ "-c" "read i < \${input}; read r < /proc/sys/kernel/osrelease; echo \\"$i; output built on $r\\" > $out" ];
      }`;
}

/** What twoStageBuild's second output holds when both ran on the `arch` guest's kernel. */
export function builtOnTheGuestTwice(arch: Arch): RegExp {
  return new RegExp(`^input built on ${cloudKernel(arch)}; output built on ${cloudKernel(arch)}\\n$`);
}

/** builtOnTheGuestTwice for the amd64 guest, which the host tests use. */
export const BUILT_ON_THE_GUEST_TWICE = builtOnTheGuestTwice("amd64");
