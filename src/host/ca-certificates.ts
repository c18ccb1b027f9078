/**
 * The CA certificates the guest trusts besides Debian's set: the caCertificates setting, or by
 * default the host Nix's own CA file, or on macOS what the System keychain holds. They travel with
 * each boot (boot-secrets.ts) and the guest's /init appends them to its bundle, so a changed CA
 * needs no new image. The host's file system and commands come in through `HostCaDeps`, so the
 * choice and the exact `security` argv are tested anywhere.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { LinuxBuilderError } from "../errors.js";
import { certificateFingerprint, pemCertificates } from "../guest/pem-certificates.js";
import { parseNixConf } from "../nix/nix-conf.js";
import type { Host } from "./host.js";
import { type CaExport, platformOf } from "./platform/platform.js";

/** The per-boot archive lives in the guest's RAM until /init installs it: a bundle is ~220 KiB. */
export const MAX_CA_BYTES = 1024 * 1024;

export type CaText =
  | { kind: "text"; text: string }
  | { kind: "missing" }
  | { kind: "unreadable"; message: string };

export interface HostCaDeps {
  readonly env: Readonly<Record<string, string | undefined>>;
  /** The platform's system store of CAs (macOS: the System keychain), if it has one. */
  readonly systemCas: CaExport | undefined;
  /** The host Nix's nix.conf (NIX_CONF_DIR/nix.conf, else /etc/nix/nix.conf). */
  readonly nixConf: string;
  readText(path: string): Promise<CaText>;
  run(
    command: string,
    args: readonly string[],
  ): Promise<{ code: number | null; stdout: string; stderr: string }>;
}

/** What the guest will trust besides Debian's set, and where it came from (for status and errors). */
export interface GuestCas {
  /** PEM certificates only, each ending with a newline; empty when there are none. */
  readonly pem: string;
  readonly count: number;
  readonly source: string;
  /** A default source that could not be used: the guest boots with Debian's set alone. */
  readonly warning?: string;
  /** How many of the source's certificates were left out: the guest's bundle has them (the image's set, or a copy before). */
  readonly alreadyTrusted?: number;
}

/**
 * The CAs left to send once those the image's bundle holds (Debian's set, by fingerprint) and
 * repeats are taken out. The host's CA file is mostly the same public roots, and every TLS
 * connection in the guest (each build's query to each cache) parses the whole bundle: a bundle that
 * held Debian's set twice cost about 0.4 s more per connection under TCG.
 */
export function casBeyondImage(cas: GuestCas, imageFingerprints: readonly string[]): GuestCas {
  if (cas.count === 0) return cas;
  const seen = new Set(imageFingerprints);
  const kept = pemCertificates(cas.pem).filter((block) => {
    const fingerprint = certificateFingerprint(block);
    if (seen.has(fingerprint)) return false;
    seen.add(fingerprint);
    return true;
  });
  if (kept.length === cas.count) return cas;
  return { ...cas, pem: kept.join(""), count: kept.length, alreadyTrusted: cas.count - kept.length };
}

/** What status says the guest trusts besides the image's set, and where it came from. */
export function casSourceText(cas: GuestCas): string {
  const repeated =
    cas.alreadyTrusted === undefined ? "" : ` (${cas.alreadyTrusted} more already in the guest's bundle)`;
  return cas.count === 0 && cas.alreadyTrusted === undefined
    ? cas.source
    : `${cas.count} from ${cas.source}${repeated}`;
}

/** Why a PEM text cannot be used, or its certificates. */
function checkPem(text: string): { pem: string; count: number } | { problem: string } {
  const certificates = pemCertificates(text);
  if (certificates.length === 0) return { problem: "holds no -----BEGIN CERTIFICATE----- block" };
  const pem = certificates.join("");
  if (Buffer.byteLength(pem) > MAX_CA_BYTES) {
    return {
      problem: `holds ${Math.ceil(Buffer.byteLength(pem) / 1024)} KiB of certificates, more than the ${MAX_CA_BYTES / 1024} KiB the builder takes`,
    };
  }
  return { pem, count: certificates.length };
}

/** The caCertificates setting's file: readable, with at least one certificate, bounded. */
async function fromSetting(path: string, deps: HostCaDeps): Promise<GuestCas> {
  const content = await deps.readText(path);
  const fail = (problem: string) =>
    new LinuxBuilderError(
      "config.ca-certificates",
      `The caCertificates setting names ${path}, which ${problem}`,
      {
        hint: "Set caCertificates in the config file to a PEM file of the CAs the builder should trust (-----BEGIN CERTIFICATE----- blocks), or remove it to use the host Nix's.",
      },
    );
  if (content.kind === "missing") throw fail("does not exist");
  if (content.kind === "unreadable") throw fail(`cannot be read (${content.message})`);
  const checked = checkPem(content.text);
  if ("problem" in checked) throw fail(checked.problem);
  return { ...checked, source: `${path} (caCertificates)` };
}

/** ssl-cert-file as a nix.conf and the files it includes set it: the last one wins. */
async function nixConfCaFile(
  path: string,
  deps: HostCaDeps,
  depth = 0,
): Promise<{ value: string; where: string } | undefined> {
  const content = await deps.readText(path);
  if (content.kind !== "text" || depth > 8) return undefined;
  let found: { value: string; where: string } | undefined;
  for (const item of parseNixConf(content.text, path)) {
    if (item.kind === "include") found = (await nixConfCaFile(item.path, deps, depth + 1)) ?? found;
    else if (item.kind === "setting" && item.name === "ssl-cert-file") {
      found = { value: item.value, where: `ssl-cert-file in ${path}:${item.line}` };
    }
  }
  return found;
}

/**
 * The host Nix's CA file as Nix resolves it (globals.cc): its nix.conf's ssl-cert-file over the
 * default it takes from NIX_SSL_CERT_FILE, then SSL_CERT_FILE. Nix's last resort, the system
 * bundle, is the public roots Debian's set already has.
 */
async function hostNixCaFile(deps: HostCaDeps): Promise<{ path: string; where: string } | undefined> {
  const setting = await nixConfCaFile(deps.nixConf, deps);
  if (setting !== undefined && setting.value !== "") return { path: setting.value, where: setting.where };
  for (const name of ["NIX_SSL_CERT_FILE", "SSL_CERT_FILE"]) {
    const value = deps.env[name];
    if (value !== undefined && value !== "") return { path: value, where: name };
  }
  return undefined;
}

/** The guest's extra CAs: the setting, else the host Nix's CA file, else the platform's system store (macOS: the System keychain). */
export async function guestCas(setting: string | undefined, deps: HostCaDeps): Promise<GuestCas> {
  if (setting !== undefined) return fromSetting(setting, deps);
  const none = (warning?: string): GuestCas => ({
    pem: "",
    count: 0,
    source: "none",
    ...(warning === undefined ? {} : { warning }),
  });
  const nixFile = await hostNixCaFile(deps);
  if (nixFile !== undefined) {
    const content = await deps.readText(nixFile.path);
    const problem =
      content.kind === "missing"
        ? "does not exist"
        : content.kind === "unreadable"
          ? `cannot be read (${content.message})`
          : undefined;
    const checked = content.kind === "text" ? checkPem(content.text) : { problem: problem as string };
    if ("problem" in checked) {
      return none(
        `the host Nix's CA file ${nixFile.path} (${nixFile.where}) ${checked.problem}: the builder trusts Debian's CA set only; set caCertificates to choose a file`,
      );
    }
    return { ...checked, source: `${nixFile.path} (${nixFile.where})` };
  }
  const { systemCas } = deps;
  if (systemCas !== undefined) {
    const result = await deps.run(systemCas.command, systemCas.args);
    if (result.code !== 0) {
      return none(
        `\`${systemCas.command} ${systemCas.args.join(" ")}\` failed (${result.stderr.trim() || `exit ${result.code}`}): the builder trusts Debian's CA set only; set caCertificates to choose a file`,
      );
    }
    const checked = checkPem(result.stdout);
    // A System keychain without certificates is the common case: nothing to add.
    if ("problem" in checked) return none();
    return { ...checked, source: systemCas.source };
  }
  return none();
}

/** The real host: its environment, files and commands. */
export function hostCaDeps(host: Pick<Host, "kind" | "env">): HostCaDeps {
  const { env } = host;
  return {
    env,
    systemCas: platformOf(host.kind).caExport,
    nixConf: `${env.NIX_CONF_DIR ?? "/etc/nix"}/nix.conf`,
    async readText(path) {
      try {
        return { kind: "text", text: await readFile(path, "utf8") };
      } catch (error) {
        const code = (error as NodeJS.ErrnoException).code;
        if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
        return { kind: "unreadable", message: (error as Error).message };
      }
    },
    run(command, args) {
      return new Promise((resolve) => {
        execFile(
          command,
          [...args],
          { timeout: 30_000, maxBuffer: 16 * MAX_CA_BYTES },
          (error, stdout, stderr) => {
            const code = error === null ? 0 : typeof error.code === "number" ? error.code : null;
            resolve({ code, stdout, stderr: stderr || (error?.message ?? "") });
          },
        );
      });
    },
  };
}
