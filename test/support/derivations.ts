/**
 * Derivations shaped like nixpkgs' for the end-to-end builds: an input built on the builder and read
 * by a second derivation that needs a feature only the builder offers. Each says which kernel built
 * it, so the output proves both ran in the guest.
 */

/** The Nix expression; `name` prefixes both derivations, `nonce` makes them new (nothing cached). */
export function twoStageBuild(name: string, nonce = String(Date.now())): string {
  return `
      let
        input = derivation {
          name = "${name}-input"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = "${nonce}";
          args = [ "-c" "read r < /proc/sys/kernel/osrelease; echo \\"input built on $r\\" > $out" ];
        };
      in derivation {
        name = "${name}-output"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = "${nonce}";
        requiredSystemFeatures = [ "big-parallel" ];
        args = [ "-c" "read i < \${input}; read r < /proc/sys/kernel/osrelease; echo \\"$i; output built on $r\\" > $out" ];
      }`;
}

/** What the second derivation's output holds when both ran on the guest's (Debian cloud) kernel. */
export const BUILT_ON_THE_GUEST_TWICE =
  /^input built on 6\.\d+\.\d+\+deb\d+-cloud-amd64; output built on 6\.\d+\.\d+\+deb\d+-cloud-amd64\n$/;
