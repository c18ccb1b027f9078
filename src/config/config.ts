import { isAbsolute } from "node:path";
import { z } from "zod";
import { LinuxBuilderError } from "../errors.js";
import type { Host } from "../host/host.js";
import { ARCHITECTURES, type Arch, DEFAULT_MIRROR, DEFAULT_SUITE } from "../image/guest/profile.js";
import { parseJson } from "../json.js";
import { DEFAULT_BUILDER_PORT } from "../nix/builders.js";
import { ACCELERATORS } from "../vm/qemu/argv.js";

/** The accel setting: `auto`, or one of the backend's accelerators. */
export const ACCEL_SETTINGS = ["auto", ...ACCELERATORS] as const;

/** The Linux systems a guest runs natively, one per architecture. */
export const NIX_SYSTEMS = ["x86_64-linux", "aarch64-linux"] as const;
export type NixSystem = (typeof NIX_SYSTEMS)[number];

/** What the host looks like, for the defaults that depend on it: the Host's CPUs and memory, the guest it runs natively. */
export interface HostFacts extends Pick<Host, "cpus" | "memoryMiB"> {
  readonly arch: Arch;
  /** The platform's state directory (see paths.ts). */
  readonly stateDir: string;
}

/** Every setting, validated strictly so a typo is an error, not ignored. */
const configSchema = z
  .object({
    arch: z.enum(["amd64", "arm64"]),
    cpus: z.number().int().min(1).max(64),
    memoryMiB: z
      .number()
      .int()
      .min(512, "at least 512 (the guest's root lives in RAM)")
      .max(1024 * 1024),
    diskGiB: z
      .number()
      .int()
      .min(4, "at least 4")
      .max(16 * 1024),
    port: z.number().int().min(1).max(65535),
    stateDir: z.string().min(1),
    maxJobs: z.number().int().min(1).max(1024),
    speedFactor: z.number().int().min(1).max(1000),
    supportedFeatures: z.array(
      z.string().regex(/^[A-Za-z0-9_.+-]+$/, "a feature name without spaces or commas"),
    ),
    /** Binary caches the guest substitutes from besides cache.nixos.org (the user's own). */
    extraSubstituters: z.array(z.string().url("a cache URL, e.g. https://cache.example.org")),
    /** The keys those caches sign with, as Nix writes them: NAME:BASE64. */
    extraTrustedPublicKeys: z.array(
      z
        .string()
        .regex(
          /^[^\s:]+:[A-Za-z0-9+/]+={0,2}$/,
          "a Nix public key, NAME:BASE64 (e.g. cache.example.org-1:AbC…=)",
        ),
    ),
    /**
     * A PEM file of CAs the guest trusts besides Debian's set (a TLS-inspecting proxy's, a private
     * cache's). Unset: the host Nix's CA file, or on macOS the System keychain (host/ca-certificates.ts).
     */
    caCertificates: z
      .string()
      .refine((path) => isAbsolute(path), "an absolute path to a PEM file, e.g. /etc/ssl/my-ca.pem")
      .optional(),
    accel: z.enum(ACCEL_SETTINGS),
    /**
     * With the service (`serve`): minutes with no connection and no build in the guest before the VM
     * is powered off (the next connection boots it again); fractions allowed; 0 never.
     */
    idleMinutes: z
      .number()
      .min(0)
      .max(7 * 24 * 60),
    /**
     * The other Linux systems the guest builds for through qemu-user (binfmt_misc): unset, the one
     * it does not run natively (an Apple Silicon user gets x86_64-linux); [] none. Emulated builds
     * are several times slower than native ones.
     */
    emulatedSystems: z
      .array(z.enum(NIX_SYSTEMS))
      .refine((systems) => new Set(systems).size === systems.length, "each system once")
      .optional(),
    suite: z.string().regex(/^[a-z0-9-]+$/, "a Debian suite name"),
    mirror: z.string().url(),
  })
  .strict();

/** The user's settings (the config file, or flags): every field optional. */
export const configFileSchema = configSchema.partial().strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigFile = z.infer<typeof configFileSchema>;

/** The systems the guest emulates: the setting, less its own native one; by default every other one. */
export function emulatedSystemsOf(config: Pick<Config, "arch" | "emulatedSystems">): NixSystem[] {
  const native = ARCHITECTURES[config.arch].nixSystem;
  return (config.emulatedSystems ?? NIX_SYSTEMS).filter((system) => system !== native);
}

/**
 * What the guest really does, advertised in the machines line and set as its system-features: its
 * Nix's own list less kvm (no /dev/kvm in the guest under TCG or hvf) and uid-range.
 */
export const DEFAULT_SUPPORTED_FEATURES: readonly string[] = ["benchmark", "big-parallel", "nixos-test"];

/**
 * The embedded defaults. Port 31022 rather than the seed's 22: Nix reaches it through an ssh_config
 * alias, and a high port needs neither privileges nor macOS's 0.0.0.0 quirk.
 */
export function defaultConfig(host: HostFacts): Config {
  // All of the host's CPUs: a vCPU is a host thread that sleeps while the
  // guest idles, and builds are what the builder is for. Half of them, one on a 2-core host,
  // serialised the boot itself: ready in 5.1-6.2 s instead of 3.4-3.9 s (TCG, 2 cores).
  const cpus = Math.max(1, host.cpus);
  return {
    arch: host.arch,
    cpus,
    // A quarter of the host's memory, between 1 and 8 GiB.
    memoryMiB: Math.min(8192, Math.max(1024, Math.floor(host.memoryMiB / 4 / 256) * 256)),
    diskGiB: 40,
    port: DEFAULT_BUILDER_PORT,
    stateDir: host.stateDir,
    maxJobs: cpus,
    speedFactor: 1,
    supportedFeatures: [...DEFAULT_SUPPORTED_FEATURES],
    extraSubstituters: [],
    extraTrustedPublicKeys: [],
    accel: "auto",
    // We boot in seconds, so an idle VM need not hold the host's memory and battery for long.
    idleMinutes: 10,
    suite: DEFAULT_SUITE,
    mirror: DEFAULT_MIRROR,
  };
}

function describeIssue(issue: z.ZodIssue | undefined): { field: string; message: string } {
  if (issue === undefined) return { field: "(root)", message: "invalid" };
  if (issue.code === "unrecognized_keys") {
    return { field: issue.keys.join(", "), message: "unknown setting" };
  }
  return { field: issue.path.join(".") || "(root)", message: issue.message };
}

/** Validates one layer of settings (the config file, or the command-line flags); `source` names it. */
export function parseConfigLayer(value: unknown, source: string): ConfigFile {
  const result = configFileSchema.safeParse(value);
  if (!result.success) {
    const { field, message } = describeIssue(result.error.issues[0]);
    throw new LinuxBuilderError("config.invalid", `Invalid setting in ${source}: ${field}: ${message}`, {
      hint: `Known settings: ${Object.keys(configFileSchema.shape).join(", ")}.`,
    });
  }
  return result.data;
}

/** Reads the config file's text (JSON); an empty or missing file is no settings. */
export function parseConfigFile(text: string | undefined, path: string): ConfigFile {
  if (text === undefined || text.trim() === "") return {};
  const json = parseJson(
    text,
    (reason) =>
      new LinuxBuilderError("config.syntax", `Cannot read the config file ${path}: ${reason}`, {
        hint: 'It is JSON, e.g. { "cpus": 4, "memoryMiB": 4096 }.',
      }),
  );
  return parseConfigLayer(json, path);
}

/** Flags over the file over the defaults. */
export function mergeConfig(defaults: Config, ...layers: ConfigFile[]): Config {
  const merged: Record<string, unknown> = { ...defaults };
  for (const layer of layers) {
    for (const [key, value] of Object.entries(layer)) if (value !== undefined) merged[key] = value;
  }
  return merged as Config;
}
