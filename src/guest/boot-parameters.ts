/**
 * What the host tells the guest at each boot besides its secrets, so that /init hard-codes none of
 * the virtual machine's shape: each backend (QEMU today) knows its own network, disk, console and
 * power button, and says so here. Carried in the per-boot archive (see the guest contract).
 */
export interface GuestBootParameters {
  /** How the guest configures its first network interface. */
  readonly network:
    | {
        readonly kind: "static";
        /** The guest's address with its prefix, e.g. 10.0.2.15/24. */
        readonly address: string;
        /** The default route: also where the guest reaches the host. */
        readonly gateway: string;
        readonly nameserver: string;
      }
    | { readonly kind: "dhcp" };
  /** The block device that holds /nix, e.g. /dev/vda. */
  readonly dataDisk: string;
  /** The serial console's device for the login prompt, e.g. ttyS0. */
  readonly console: string;
  /** How a power-off request reaches the guest: ACPI's power button, or arm64 virt's PL061 GPIO line 3. */
  readonly powerButton: "acpi" | "pl061-gpio";
}
