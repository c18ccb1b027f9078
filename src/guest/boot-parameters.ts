import { isIPv4 } from "node:net";
import type { NixSystem } from "../config/config.js";
import { LinuxBuilderError } from "../errors.js";
import { binfmtRegistration } from "./binfmt.js";

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

/** An IPv4 address in dotted decimal, and nothing else. */
const ipv4 = (value: string): boolean => /^[0-9.]+$/.test(value) && isIPv4(value);

/**
 * How the parameters travel: `key=value` lines in /.linux-builder/parameters, which /init reads
 * with `read` into its own variables (never evaluated). Each value must be what its key accepts,
 * checked here, so the shell only ever sees addresses, device names and words.
 */
const PARAMETER_LINES = {
  network: { accepts: (value) => value === "static" || value === "dhcp", what: "static or dhcp" },
  address: {
    accepts: (value) => {
      const [ip = "", prefix = "", ...more] = value.split("/");
      return more.length === 0 && ipv4(ip) && /^[0-9]{1,2}$/.test(prefix) && Number(prefix) <= 32;
    },
    what: "an IPv4 address with its prefix (10.0.2.15/24)",
  },
  gateway: { accepts: ipv4, what: "an IPv4 address" },
  nameserver: { accepts: ipv4, what: "an IPv4 address" },
  data_disk: {
    accepts: (value) => /^\/dev\/[a-z][a-z0-9]*$/.test(value),
    what: "a block device under /dev (/dev/vda)",
  },
  console: {
    accepts: (value) => /^[A-Za-z][A-Za-z0-9]*$/.test(value),
    what: "a terminal's name under /dev (ttyS0)",
  },
  power_button: {
    accepts: (value) => value === "acpi" || value === "pl061-gpio",
    what: "acpi or pl061-gpio",
  },
  // One line per emulated system (binfmt.ts), which /init writes to binfmt_misc's register as it is:
  // hex escapes for the kernel, an absolute path, flag letters; nothing a shell would expand.
  binfmt: {
    accepts: (value) =>
      /^:[a-z0-9_-]+:M::(\\x[0-9a-f]{2}|[A-Za-z0-9])+:(\\x[0-9a-f]{2})+:\/[a-z0-9_/-]+:[FPCO]*$/.test(value),
    what: "a binfmt_misc registration of ELF magic (:name:M::magic:mask:/interpreter:flags)",
  },
} as const satisfies Record<string, { accepts: (value: string) => boolean; what: string }>;

type ParameterLine = readonly [keyof typeof PARAMETER_LINES, string];

function lines(parameters: GuestBootParameters, emulatedSystems: readonly NixSystem[]): ParameterLine[] {
  const { network } = parameters;
  const addresses: ParameterLine[] =
    network.kind === "static"
      ? [
          ["address", network.address],
          ["gateway", network.gateway],
          ["nameserver", network.nameserver],
        ]
      : [];
  return [
    ["network", network.kind],
    ...addresses,
    ["data_disk", parameters.dataDisk],
    ["console", parameters.console],
    ["power_button", parameters.powerButton],
    ...emulatedSystems.map((system): ParameterLine => ["binfmt", binfmtRegistration(system)]),
  ];
}

/**
 * The parameters file's text: the virtual machine's shape, and the systems /init registers with
 * binfmt_misc (none: it registers nothing). A value its key does not accept is refused, never written.
 */
export function bootParametersFile(
  parameters: GuestBootParameters,
  emulatedSystems: readonly NixSystem[],
): string {
  const entries = lines(parameters, emulatedSystems);
  for (const [key, value] of entries) {
    if (!PARAMETER_LINES[key].accepts(value)) {
      throw new LinuxBuilderError(
        "guest.parameters",
        `The guest's boot parameter ${key} is ${JSON.stringify(value)}, not ${PARAMETER_LINES[key].what}`,
      );
    }
  }
  return entries.map(([key, value]) => `${key}=${value}\n`).join("");
}
