/**
 * `linux-builder doctor` as pure logic: facts about the host go in (gathered by host-probe.ts), one
 * verdict per check comes out. No I/O here, so every verdict is tested with literal inputs: sw_vers
 * strings, lsof output, `nix show-config --json`, file modes.
 */

import { compareVersions, parseNixVersion, parseVersion } from "../dotted-version.js";
import {
  builderFiles,
  decodePinnedKey,
  type MachineEntry,
  parseMachines,
  refusedBy,
} from "../nix/machines-file.js";
import type { SettingSource } from "../nix/nix-conf.js";
import { knownHostsFor } from "../ssh/known-hosts.js";
import type { Accelerator } from "../vm/qemu/argv.js";
import { hostForwardAddress, privilegedPortWarning } from "../vm/qemu/argv.js";
import type { GuestCas } from "./ca-certificates.js";
import type { HostKind as HostPlatform } from "./host.js";

export type CheckStatus = "ok" | "warn" | "fail";

export interface Check {
  readonly name: string;
  readonly status: CheckStatus;
  readonly detail: string;
  /** What to do about it, for warn and fail. */
  readonly fix?: string;
}

function check(name: string, status: CheckStatus, detail: string, fix?: string): Check {
  return fix === undefined ? { name, status, detail } : { name, status, detail, fix };
}

export { compareVersions, parseNixVersion, parseVersion };

/** A command's result as the checks see it: what it printed, or that it is not installed, or how it failed. */
export type ToolResult =
  | { readonly kind: "ran"; readonly stdout: string }
  | { readonly kind: "missing" }
  | { readonly kind: "failed"; readonly message: string };

// ---------------------------------------------------------------------------------------------------
// The host

/** Hypervisor.framework as QEMU uses it, and the M1 Max fix the virt machine's memory map needs. */
export const MINIMUM_MACOS = [12, 4] as const;

export type HostSystem =
  | { readonly platform: "darwin"; readonly swVers: ToolResult }
  | { readonly platform: "linux"; readonly kernel: string; readonly osRelease: string | undefined }
  | { readonly platform: "other"; readonly name: string };

/** PRETTY_NAME from /etc/os-release ("Debian GNU/Linux 12 (bookworm)"). */
export function parseOsRelease(text: string): string | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] === undefined || match[2] === undefined) continue;
    fields.set(match[1], match[2].replace(/^(["'])(.*)\1$/, "$2"));
  }
  return fields.get("PRETTY_NAME") ?? fields.get("NAME");
}

export function checkHost(host: HostSystem): Check {
  if (host.platform === "linux") {
    const distribution = host.osRelease === undefined ? undefined : parseOsRelease(host.osRelease);
    return check("host", "ok", `Linux ${host.kernel}${distribution ? `, ${distribution}` : ""}`);
  }
  if (host.platform === "other") {
    return check(
      "host",
      "warn",
      `${host.name} is untested: linux-builder knows macOS and Linux`,
      "Expect rough edges; reports are welcome.",
    );
  }
  const minimum = MINIMUM_MACOS.join(".");
  if (host.swVers.kind !== "ran") {
    const why = host.swVers.kind === "missing" ? "sw_vers is missing" : host.swVers.message;
    return check(
      "macOS",
      "warn",
      `cannot tell the macOS version (${why})`,
      `Check that it is ${minimum} or later.`,
    );
  }
  const text = host.swVers.stdout.trim();
  const version = /^\d+(\.\d+)*$/.test(text) ? parseVersion(text) : undefined;
  if (version === undefined) {
    return check(
      "macOS",
      "warn",
      `cannot read the macOS version from sw_vers: "${text}"`,
      `Check that it is ${minimum} or later.`,
    );
  }
  if (compareVersions(version, MINIMUM_MACOS) < 0) {
    return check(
      "macOS",
      "fail",
      `macOS ${text} is older than ${minimum}, which the builder needs (Hypervisor.framework)`,
      `Update macOS to ${minimum} or later.`,
    );
  }
  return check("macOS", "ok", `macOS ${text}`);
}

// ---------------------------------------------------------------------------------------------------
// The port

export interface Listener {
  readonly pid: number;
  readonly command: string;
  readonly user?: string;
  /** Where it listens, as lsof names it ("127.0.0.1:31022", "*:22"). */
  readonly addresses: readonly string[];
}

/**
 * lsof's -F output (`lsof -nP -iTCP:PORT -sTCP:LISTEN -FpcLn`): one field a line, its first
 * character the field's name. `p` starts a process; `c` (command), `L` (login) and `n` (the
 * address, once per file) belong to the last one. Other fields (`f`, `t`…) are skipped.
 */
export function parseLsofListeners(text: string): Listener[] {
  const listeners: { pid: number; command: string; user?: string; addresses: string[] }[] = [];
  for (const line of text.split("\n")) {
    const field = line[0];
    const value = line.slice(1).trimEnd();
    if (field === "p") {
      const pid = Number.parseInt(value, 10);
      if (Number.isInteger(pid) && pid > 0) listeners.push({ pid, command: "", addresses: [] });
      continue;
    }
    const current = listeners.at(-1);
    if (current === undefined) continue;
    if (field === "c") current.command = value;
    else if (field === "L") current.user = value;
    else if (field === "n" && !current.addresses.includes(value)) current.addresses.push(value);
  }
  return listeners;
}

/** What binding the forward's address and port ourselves said: what QEMU will meet. */
export type PortProbe = "free" | "in-use" | "denied" | { readonly error: string };

export interface PortFacts {
  readonly port: number;
  readonly hostPlatform: HostPlatform;
  readonly probe: PortProbe;
  /** Who listens on the port per lsof; undefined when lsof is missing or failed. */
  readonly listeners: readonly Listener[] | undefined;
  /** Our running builder, if any: its pid and the port it was started on. */
  readonly builder: { readonly pid: number; readonly port: number | undefined } | undefined;
}

function describeListener(listener: Listener): string {
  const who = [`pid ${listener.pid}`, ...(listener.user ? [`user ${listener.user}`] : [])].join(", ");
  const where = listener.addresses.length > 0 ? ` on ${listener.addresses.join(", ")}` : "";
  return `${listener.command || "a process"} (${who})${where}`;
}

export function checkPort(facts: PortFacts): Check {
  const { port } = facts;
  const address = hostForwardAddress(facts.hostPlatform, port);
  const name = `port ${port}`;
  const otherPort = `Stop it, or give the builder another port: --port, or "port" in the config file.`;
  if (facts.probe === "free") {
    const warning = privilegedPortWarning({ hostPlatform: facts.hostPlatform, sshPort: port });
    if (warning !== undefined) {
      return check(name, "warn", `free, but ${warning}`, "Use a port above 1023 unless you need this one.");
    }
    return check(name, "ok", `free on ${address}`);
  }
  if (facts.probe === "denied") {
    return check(
      name,
      "fail",
      `cannot listen on ${address}:${port}: permission denied (ports below 1024 need root here)`,
      'Use a port above 1023: --port, or "port" in the config file (the default is 31022).',
    );
  }
  if (facts.probe !== "in-use") {
    return check(name, "warn", `cannot test ${address}:${port}: ${facts.probe.error}`);
  }
  const holders = facts.listeners ?? [];
  const ours = facts.builder === undefined ? undefined : holders.find((l) => l.pid === facts.builder?.pid);
  if (ours !== undefined) return check(name, "ok", `held by the running builder (pid ${ours.pid})`);
  const others = holders.filter((l) => l.pid !== facts.builder?.pid);
  if (others.length > 0) {
    return check(name, "fail", `taken by ${others.map(describeListener).join("; ")}`, otherPort);
  }
  // Nobody lsof can name holds it: when our builder was started on this port, it is the one.
  if (facts.builder !== undefined && facts.builder.port === port) {
    return check(
      name,
      "ok",
      `in use, by the running builder (pid ${facts.builder.pid}) started on it (lsof could not confirm)`,
    );
  }
  const lookup = `lsof -nP -iTCP:${port} -sTCP:LISTEN`;
  return check(
    name,
    "fail",
    facts.listeners === undefined
      ? `taken on ${address}; lsof is not available to name the process`
      : `taken on ${address} by a process lsof does not show you (another user's?)`,
    facts.listeners === undefined
      ? `Install lsof, or find it with \`ss -ltnp\`; ${otherPort}`
      : `\`sudo ${lookup}\` names it; ${otherPort}`,
  );
}

// ---------------------------------------------------------------------------------------------------
// Nix: installed, and whether the user is trusted

export function checkNix(result: ToolResult): Check {
  if (result.kind === "missing") {
    return check(
      "nix",
      "fail",
      "nix is not installed (or not on PATH)",
      "Install Nix: https://nixos.org/download",
    );
  }
  if (result.kind === "failed") return check("nix", "fail", `nix --version failed: ${result.message}`);
  const version = parseNixVersion(result.stdout);
  return check("nix", "ok", version ? `Nix ${version.join(".")}` : result.stdout.trim());
}

/**
 * `nix show-config --json` (or `nix config show --json`) as name → value. Nix ≥ 2.4 wraps each value
 * as `{ value, defaultValue, description… }`; older versions gave the value itself.
 */
export function parseNixConfig(text: string): Map<string, unknown> {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new Error("nix printed something that is not JSON");
  }
  if (typeof json !== "object" || json === null || Array.isArray(json)) {
    throw new Error("nix printed JSON that is not an object of settings");
  }
  const settings = new Map<string, unknown>();
  for (const [name, entry] of Object.entries(json)) {
    const wrapped = typeof entry === "object" && entry !== null && !Array.isArray(entry) && "value" in entry;
    settings.set(name, wrapped ? (entry as { value: unknown }).value : entry);
  }
  return settings;
}

/** A list setting (trusted-users): a JSON list, or Nix's whitespace-separated string. */
export function settingList(value: unknown): string[] {
  if (Array.isArray(value)) return value.map(String);
  if (typeof value === "string") return value.split(/\s+/).filter((word) => word !== "");
  return [];
}

/** How the user is trusted, if at all: by name, through a group (@group), or as everyone (*). */
export function trustedVia(
  user: { readonly name: string; readonly uid: number; readonly groups: readonly string[] },
  trustedUsers: readonly string[],
): string | undefined {
  if (user.uid === 0) return "root is always trusted";
  for (const entry of trustedUsers) {
    if (entry === "*") return "trusted-users has *";
    if (entry === user.name) return `${user.name} is in trusted-users`;
    if (entry.startsWith("@") && user.groups.includes(entry.slice(1))) {
      return `${user.name} is in trusted-users through ${entry}`;
    }
  }
  return undefined;
}

/** Whether machines text (a `builders` value, a machines file) has a line for builder@alias. */
export function machinesMention(text: string, alias: string): boolean {
  return text
    .split(/[\n;]/)
    .map((line) => line.replace(/#.*/, "").trim().split(/\s+/)[0])
    .some((uri) => uri === `ssh-ng://builder@${alias}` || uri === `ssh://builder@${alias}`);
}

/**
 * How this user's Nix builds: in-process on the local store (root, single-user installs), or through
 * the daemon, as Nix's `auto` store decides. Through the daemon, the daemon's own settings and
 * builders apply; --builders and NIX_SSHOPTS from the client need trust, or are not seen at all.
 */
export type NixRoute = "local" | "daemon";

export function nixRoute(facts: {
  readonly nixRemote: string | undefined;
  readonly stateDirWritable: boolean;
  readonly daemonSocket: boolean;
}): NixRoute {
  if (facts.nixRemote !== undefined && facts.nixRemote !== "") {
    return facts.nixRemote === "local" ? "local" : "daemon";
  }
  if (facts.stateDirWritable) return "local";
  return facts.daemonSocket ? "daemon" : "local";
}

export interface TrustFacts {
  readonly user: { readonly name: string; readonly uid: number; readonly groups: readonly string[] };
  /** The text of `nix show-config --json`, or why there is none. */
  readonly config: ToolResult;
  readonly route: NixRoute;
  /** Whether the daemon's builders (its `builders` setting and the files it names) include ours. */
  readonly daemonBuilder: boolean;
  readonly nixConf: string;
  readonly restartDaemon: string;
}

export function checkTrustedUser(facts: TrustFacts): Check {
  const name = "trusted user";
  if (facts.config.kind !== "ran") {
    const why = facts.config.kind === "missing" ? "nix is missing" : facts.config.message;
    return check(name, "warn", `cannot read Nix's settings (${why})`);
  }
  let settings: Map<string, unknown>;
  try {
    settings = parseNixConfig(facts.config.stdout);
  } catch (error) {
    return check(name, "warn", `cannot read Nix's settings: ${(error as Error).message}`);
  }
  const trustedUsers = settingList(settings.get("trusted-users"));
  const via = trustedVia(facts.user, trustedUsers);
  if (via !== undefined) return check(name, "ok", via);
  if (facts.route === "local") {
    return check(
      name,
      "ok",
      `${facts.user.name} is not in trusted-users, but Nix runs without a daemon here: your settings apply as they are`,
    );
  }
  const fix = `Add \`extra-trusted-users = ${facts.user.name}\` to ${facts.nixConf}, then restart the Nix daemon (${facts.restartDaemon}).`;
  const listed = `trusted-users is ${trustedUsers.length > 0 ? trustedUsers.join(" ") : "empty"}`;
  if (facts.daemonBuilder) {
    return check(
      name,
      "warn",
      `${facts.user.name} is not a trusted Nix user (${listed}). Builds still reach the builder through the daemon's own builders, which \`linux-builder install\` set up; only builders and settings you pass yourself (--builders, --option) are ignored`,
      fix,
    );
  }
  return check(
    name,
    "fail",
    `${facts.user.name} is not a trusted Nix user (${listed}), and the Nix daemon has no linux-builder entry: the daemon ignores the builders you pass it`,
    `${fix} Or run \`linux-builder install\`, which gives the daemon the builder.`,
  );
}

// ---------------------------------------------------------------------------------------------------
// QEMU and the accelerator

/** The oldest QEMU this project is tested with (Debian 12's). */
export const MINIMUM_QEMU = [7, 2] as const;

export function qemuInstallHint(platform: HostPlatform, arch: "amd64" | "arm64"): string {
  if (platform === "darwin") return "brew install qemu";
  return `apt install ${arch === "amd64" ? "qemu-system-x86" : "qemu-system-arm"} (or your distribution's QEMU package)`;
}

export function checkQemu(facts: {
  readonly command: string;
  readonly result: ToolResult;
  readonly platform: HostPlatform;
  readonly arch: "amd64" | "arm64";
}): Check {
  const hint = qemuInstallHint(facts.platform, facts.arch);
  if (facts.result.kind === "missing") {
    return check(
      "qemu",
      "fail",
      `${facts.command} is not installed (or not on PATH)`,
      `Install it: ${hint}.`,
    );
  }
  if (facts.result.kind === "failed") {
    return check(
      "qemu",
      "fail",
      `${facts.command} --version failed: ${facts.result.message}`,
      `Reinstall it: ${hint}.`,
    );
  }
  const line = facts.result.stdout.split("\n")[0] ?? "";
  const version = /version\s+(\d+(?:\.\d+)*)/i.exec(line)?.[1];
  if (version === undefined) {
    return check("qemu", "warn", `cannot read ${facts.command}'s version from "${line.trim()}"`);
  }
  const parsed = version.split(".").map(Number);
  if (compareVersions(parsed, MINIMUM_QEMU) < 0) {
    return check(
      "qemu",
      "warn",
      `${facts.command} ${version} is older than ${MINIMUM_QEMU.join(".")}, the oldest tested`,
      `Upgrade it: ${hint}.`,
    );
  }
  return check("qemu", "ok", `${facts.command} ${version}`);
}

export type AccelFacts =
  | { readonly kind: "skipped"; readonly reason: string; readonly fix?: string }
  | {
      readonly kind: "chosen";
      /** What the config asks for. */
      readonly requested: "auto" | Accelerator;
      /** What `auto` picks here after its probe, and its warning if it fell back. */
      readonly auto: { readonly accel: Accelerator; readonly warning?: string };
      /** macOS: `sysctl kern.hv_support` (undefined elsewhere or when unknown). */
      readonly hvSupport?: boolean;
    };

export function checkAccel(facts: AccelFacts): Check {
  const name = "accelerator";
  if (facts.kind === "skipped") return check(name, "warn", facts.reason, facts.fix);
  const { requested, auto } = facts;
  const useAuto = 'Set "accel" to "auto" (or drop --accel) so the builder uses what works.';
  if (auto.accel === "hvf" && facts.hvSupport === false) {
    return check(
      name,
      "fail",
      "Hypervisor.framework is not available on this Mac (sysctl kern.hv_support is 0; a Mac in a VM?)",
      'Run on a Mac with virtualisation, or set "accel" to "tcg" (slow).',
    );
  }
  if (requested === "auto" || requested === auto.accel) {
    if (auto.accel === "tcg") {
      // Builds work, only slowly: the warning says why; nothing to fix on the builder's side.
      return check(name, "warn", auto.warning ?? "TCG: emulation, slow");
    }
    return check(name, "ok", `${auto.accel}${auto.accel === "kvm" ? " (a probe boot passed)" : ""}`);
  }
  if (requested === "tcg") {
    return check(name, "warn", `the config asks for TCG (slow), but ${auto.accel} works here`, useAuto);
  }
  return check(
    name,
    "fail",
    `the config asks for ${requested}, but ${auto.warning ?? `${auto.accel} is what works here`}`,
    useAuto,
  );
}

// ---------------------------------------------------------------------------------------------------
// Keys

export interface FileFacts {
  readonly path: string;
  /** Undefined when the file does not exist. */
  readonly stat: { readonly mode: number; readonly uid: number } | undefined;
}

function octal(mode: number): string {
  return `0${(mode & 0o777).toString(8).padStart(3, "0")}`;
}

/** This install's keys in the state dir: all there, private ones 0600 and the user's. */
export function checkStateKeys(facts: {
  readonly dir: string;
  readonly privateKeys: readonly FileFacts[];
  readonly publicKeys: readonly FileFacts[];
  readonly uid: number;
}): Check {
  const name = "builder keys";
  const all = [...facts.privateKeys, ...facts.publicKeys];
  const missing = all.filter((file) => file.stat === undefined).map((file) => file.path);
  if (missing.length === all.length) {
    return check(name, "warn", `none yet in ${facts.dir}`, "`linux-builder start` makes them.");
  }
  if (missing.length > 0) {
    return check(
      name,
      "fail",
      `missing: ${missing.join(", ")}`,
      "`linux-builder start` makes a new pair; then run `linux-builder install` again, as the keys change.",
    );
  }
  const problems: string[] = [];
  const fixes: string[] = [];
  for (const file of facts.privateKeys) {
    const stat = file.stat;
    if (stat === undefined) continue;
    if ((stat.mode & 0o777) !== 0o600) {
      problems.push(`${file.path} is mode ${octal(stat.mode)}, not 0600`);
      fixes.push(`chmod 600 ${file.path}`);
    }
    if (stat.uid !== facts.uid) {
      problems.push(`${file.path} belongs to uid ${stat.uid}, not you (uid ${facts.uid})`);
      fixes.push(`chown ${facts.uid} ${file.path}`);
    }
  }
  if (problems.length > 0) return check(name, "fail", problems.join("; "), `Run: ${fixes.join("; ")}`);
  return check(name, "ok", `in ${facts.dir}, private keys 0600 and yours`);
}

/** An OpenSSH public key line without its comment: "type blob". */
function keyIdentity(line: string): string {
  return line.trim().split(/\s+/).slice(0, 2).join(" ");
}

/** The key the Nix daemon logs in with (/etc/nix/builder_ed25519): there, 0600, and this builder's. */
export function checkInstalledKey(facts: {
  readonly key: FileFacts;
  /** The installed .pub's text, or undefined when missing or unreadable. */
  readonly installedPublicKey: string | undefined;
  /** The state dir's builder public key, or undefined when there is none yet. */
  readonly statePublicKey: string | undefined;
}): Check {
  const name = "installed key";
  const { path, stat } = facts.key;
  if (stat === undefined) {
    return check(name, "warn", `not installed (${path})`, "Run `linux-builder install`.");
  }
  if ((stat.mode & 0o777) !== 0o600) {
    return check(name, "fail", `${path} is mode ${octal(stat.mode)}, not 0600`, `sudo chmod 600 ${path}`);
  }
  if (facts.installedPublicKey === undefined) {
    return check(
      name,
      "warn",
      `${path} is there, but ${path}.pub is missing, so it cannot be compared with this builder's key`,
      "Run `linux-builder install` again.",
    );
  }
  if (facts.statePublicKey === undefined) {
    return check(
      name,
      "warn",
      `${path} is there, but this builder has no key yet to compare it with`,
      "`linux-builder start` makes one; then `linux-builder install`.",
    );
  }
  if (keyIdentity(facts.installedPublicKey) !== keyIdentity(facts.statePublicKey)) {
    return check(
      name,
      "fail",
      `${path} is not this builder's key (its .pub differs from the state dir's): the Nix daemon cannot log in`,
      "Run `linux-builder install` to install the current key.",
    );
  }
  return check(name, "ok", `${path}, 0600, matches this builder's key`);
}

// ---------------------------------------------------------------------------------------------------
// What the Nix daemon will use: the installed machines file, nix.conf, root's ssh

/** A file as doctor could read it. Root-only files (a key, root's known_hosts) are not an error. */
export type FileText =
  | { readonly kind: "text"; readonly text: string }
  | { readonly kind: "missing" }
  | { readonly kind: "root-only" }
  | { readonly kind: "unreadable"; readonly message: string };

const ROOT_ONLY = "cannot read (root only)";

/** A machines file and the files its `@` lines name, as read. */
export interface MachinesFiles {
  readonly path: string;
  readonly files: readonly { readonly path: string; readonly content: FileText }[];
  /** The host's Nix version (`nix --version`), for what only older Nix refuses; undefined: any. */
  readonly nixVersion?: readonly number[] | undefined;
}

/** Every line of the machines files Nix would refuse, named by file and line: one refuses them all. */
export function checkMachinesFile(facts: MachinesFiles): Check {
  const name = "machines file";
  const top = facts.files.find((file) => file.path === facts.path)?.content ?? { kind: "missing" };
  if (top.kind === "missing") {
    return check(
      name,
      "warn",
      `${facts.path} does not exist: Nix has no builders`,
      "Run `linux-builder install`.",
    );
  }
  if (top.kind !== "text") {
    const why = top.kind === "root-only" ? ROOT_ONLY : top.message;
    return check(
      name,
      "warn",
      `${facts.path}: ${why}`,
      `Make it readable by everyone: sudo chmod 644 ${facts.path}`,
    );
  }
  const problems: string[] = [];
  const lines: number[] = [];
  let count = 0;
  for (const file of facts.files) {
    if (file.content.kind !== "text") continue;
    const parsed = parseMachines(file.content.text);
    count += parsed.entries.length;
    for (const problem of parsed.problems) {
      if (!refusedBy(problem, facts.nixVersion)) continue;
      problems.push(`${file.path} line ${problem.line} (\`${problem.text}\`): ${problem.message}`);
      if (file.path === facts.path) lines.push(problem.line);
    }
  }
  if (problems.length > 0) {
    return check(
      name,
      "fail",
      `Nix cannot read ${problems.join("; ")}: while it is there, Nix starts no remote build at all`,
      `Fix or remove ${lines.length > 0 ? `line ${lines.join(", ")} of ${facts.path}` : "that line"} (a key path with white space, ';' or '#' cannot be written there: move the key).`,
    );
  }
  return check(
    name,
    "ok",
    `${facts.path}: ${count} builder${count === 1 ? "" : "s"}, every line readable by Nix`,
  );
}

/** The URIs install writes for the alias (ssh:// is the older protocol, also ours when a user wrote it). */
function isOurUri(uri: string, alias: string): boolean {
  return uri === `ssh-ng://builder@${alias}` || uri === `ssh://builder@${alias}`;
}

/**
 * The installed machines line for this builder: there once, serving the system, logging in with the
 * installed key, and pinning this install's guest host key (the state folder's
 * keys/ssh_host_ed25519_key.pub). A pin that differs makes the daemon's ssh refuse the builder.
 */
export function checkMachinesPin(facts: {
  readonly path: string;
  readonly content: FileText;
  readonly alias: string;
  readonly system: string;
  readonly keyPath: string;
  /** The state folder's guest host public key (an OpenSSH line), undefined when there is none yet. */
  readonly hostPublicKey: string | undefined;
  readonly hostPublicKeyPath: string;
}): Check {
  const name = "machines line";
  const install = "Run `linux-builder install` again: it writes the line for this builder.";
  if (facts.content.kind !== "text") {
    const why =
      facts.content.kind === "missing"
        ? "does not exist"
        : facts.content.kind === "root-only"
          ? ROOT_ONLY
          : facts.content.message;
    return check(
      name,
      "warn",
      `no line for builder@${facts.alias}: ${facts.path} ${why}`,
      "Run `linux-builder install`.",
    );
  }
  const ours = parseMachines(facts.content.text).entries.filter((entry) => isOurUri(entry.uri, facts.alias));
  const at = (entry: MachineEntry) => `line ${entry.line} of ${facts.path}`;
  if (ours.length === 0) {
    return check(
      name,
      "warn",
      `${facts.path} has no line for builder@${facts.alias}`,
      "Run `linux-builder install`.",
    );
  }
  if (ours.length > 1) {
    return check(
      name,
      "warn",
      `${facts.path} has ${ours.length} lines for builder@${facts.alias} (lines ${ours.map((e) => e.line).join(", ")}): Nix counts it as ${ours.length} builders`,
      `Remove all but one (or remove them all and run \`linux-builder install\` again).`,
    );
  }
  const entry = ours[0] as MachineEntry;
  if (entry.systems.length > 0 && !entry.systems.includes(facts.system)) {
    return check(
      name,
      "fail",
      `${at(entry)} serves ${entry.systems.join(",")}, not ${facts.system}`,
      install,
    );
  }
  if (entry.sshKey !== facts.keyPath) {
    return check(
      name,
      "fail",
      `${at(entry)} logs in with ${entry.sshKey ?? "no key"}, not the installed key ${facts.keyPath}`,
      install,
    );
  }
  if (entry.publicHostKey === undefined) {
    return check(
      name,
      "fail",
      `${at(entry)} pins no host key: ssh looks the builder up in root's own known_hosts instead, where its key is not`,
      install,
    );
  }
  if (facts.hostPublicKey === undefined) {
    return check(
      name,
      "warn",
      `${at(entry)} pins a host key, but this install has none yet (${facts.hostPublicKeyPath}) to compare it with`,
      "`linux-builder start` makes one; then `linux-builder install`.",
    );
  }
  if (decodePinnedKey(entry.publicHostKey) !== keyIdentity(facts.hostPublicKey)) {
    return check(
      name,
      "fail",
      `${at(entry)} pins a host key that is not this builder's (${facts.hostPublicKeyPath}): the daemon's ssh refuses the builder ("Host key verification failed")`,
      install,
    );
  }
  return check(
    name,
    "ok",
    `${at(entry)}: ${facts.system}, key ${facts.keyPath}, pins this builder's host key`,
  );
}

/** Whether a `builders` value reads the machines file (one of its `@` entries is it). */
function readsMachines(value: string, machinesPaths: readonly string[]): boolean {
  return builderFiles(value).some((path) => machinesPaths.includes(path));
}

const where = (setting: SettingSource) =>
  setting.line > 0 ? `${setting.source} line ${setting.line}` : setting.source;

/**
 * Whether Nix's `builders` setting still reads the machines file. Its default is @CONF_DIR/machines;
 * a `builders =` line replaces it. The daemon reads nix.conf (and what it includes); a client's own
 * settings (~/.config/nix/nix.conf, NIX_CONFIG) reach the daemon when the user is trusted, and an
 * empty `builders` reaches it from anyone (nix's daemon.cc accepts that one from untrusted clients).
 * `extra-builders` is no setting: builders is a string, which Nix cannot append to.
 */
export function checkBuildersSetting(facts: {
  readonly machinesPath: string;
  /** Paths that are the machines file (its path as configured and resolved). */
  readonly machinesPaths: readonly string[];
  /** nix.conf and the files it includes, in the order Nix reads them: what the daemon reads. */
  readonly daemon: readonly SettingSource[];
  /** The user's own settings (user nix.conf files, NIX_CONFIG), in order. */
  readonly client: readonly SettingSource[];
  readonly route: NixRoute;
  readonly trusted: boolean;
}): Check {
  const name = "builders setting";
  const problems: string[] = [];
  const fixes: string[] = [];
  const last = (settings: readonly SettingSource[]) => settings.filter((s) => s.name === "builders").at(-1);
  const hides = (setting: SettingSource, who: string) => {
    problems.push(
      `\`builders = ${setting.value}\` (${where(setting)}) replaces Nix's default @${facts.machinesPath}: ${who} never reads the machines file`,
    );
    fixes.push(
      `in ${where(setting)}, add @${facts.machinesPath} to it (\`builders = @${facts.machinesPath}${setting.value === "" ? "" : ` ; ${setting.value}`}\`) or remove the line`,
    );
  };
  const daemonSetting = last(facts.daemon);
  if (daemonSetting !== undefined && !readsMachines(daemonSetting.value, facts.machinesPaths)) {
    hides(daemonSetting, facts.route === "daemon" ? "the Nix daemon" : "Nix");
  }
  const clientSetting = last(facts.client);
  if (clientSetting !== undefined && !readsMachines(clientSetting.value, facts.machinesPaths)) {
    if (facts.route === "local" || facts.trusted || clientSetting.value === "") {
      hides(clientSetting, facts.route === "local" ? "Nix" : "the daemon, for your builds,");
    }
  }
  const extra = [...facts.daemon, ...facts.client].filter((s) => s.name === "extra-builders");
  const extraNote =
    extra.length > 0
      ? `; ${extra.map(where).join(", ")}: \`extra-builders\` is not a Nix setting (Nix warns "unknown setting" and ignores it: builders cannot be appended to)`
      : "";
  if (problems.length > 0) {
    return check(
      name,
      "fail",
      `${problems.join("; ")}${extraNote}`,
      `${fixes.join("; ")}${facts.route === "daemon" ? "; then restart the Nix daemon" : ""}.`,
    );
  }
  if (extra.length > 0) {
    return check(
      name,
      "warn",
      extraNote.slice(2),
      `Remove it; put those builders in ${facts.machinesPath}, or in \`builders = @${facts.machinesPath} ; …\`.`,
    );
  }
  const used =
    clientSetting !== undefined && (facts.route === "local" || facts.trusted) ? clientSetting : daemonSetting;
  return check(
    name,
    "ok",
    used === undefined
      ? `Nix's default, @${facts.machinesPath}`
      : `\`builders = ${used.value}\` (${where(used)}) reads ${facts.machinesPath}`,
  );
}

/** `ssh -G HOST`'s output (every option, one "name value" a line) as name → values. */
export function parseSshG(text: string): Map<string, string[]> {
  const options = new Map<string, string[]>();
  for (const line of text.split("\n")) {
    const match = /^(\S+)\s+(.*?)\s*$/.exec(line);
    if (match?.[1] === undefined || match[2] === undefined) continue;
    const key = match[1].toLowerCase();
    options.set(key, [...(options.get(key) ?? []), match[2]]);
  }
  return options;
}

/**
 * The ssh alias the daemon's ssh (root's) reaches the builder by: the installed file there, read by
 * the system ssh_config's `Include`, and what ssh makes of the alias in the end (`ssh -G`), which an
 * earlier `Host` block or root's ~/.ssh/config can change (ssh takes the first value it meets).
 */
export function checkSshAlias(facts: {
  readonly path: string;
  readonly content: FileText;
  readonly systemConfigPath: string;
  readonly systemConfig: FileText;
  /** Whether the system ssh_config's Include lines take in `path` (install-plan's sshIncludesDir). */
  readonly included: boolean;
  /** `ssh -G ALIAS` as root (or the system config's view, when not root). */
  readonly effective: ToolResult;
  readonly alias: string;
  readonly port: number;
  readonly keyPath: string;
  /** Whether the folder of ssh's ControlPath (from `ssh -G`) exists; undefined when unknown. */
  readonly controlDirExists?: boolean | undefined;
}): Check {
  const name = "ssh alias";
  const install = "Run `linux-builder install` again.";
  if (facts.content.kind === "missing") {
    return check(
      name,
      "fail",
      `${facts.path} is missing: ssh does not know the host ${facts.alias}`,
      install,
    );
  }
  if (facts.systemConfig.kind === "text" && !facts.included) {
    const dir = facts.path.slice(0, facts.path.lastIndexOf("/"));
    return check(
      name,
      "fail",
      `${facts.systemConfigPath} does not include ${facts.path}: ssh (the Nix daemon's too) never reads it, and cannot resolve ${facts.alias}`,
      `Add \`Include ${dir}/*.conf\` at the top of ${facts.systemConfigPath}.`,
    );
  }
  if (facts.effective.kind !== "ran") {
    const why = facts.effective.kind === "missing" ? "ssh is not installed" : facts.effective.message;
    return check(name, "warn", `cannot ask ssh what ${facts.alias} is (${why})`);
  }
  const options = parseSshG(facts.effective.stdout);
  const get = (key: string) => options.get(key)?.[0];
  const wrong: string[] = [];
  if (get("hostname") !== "127.0.0.1") wrong.push(`HostName ${get("hostname") ?? "?"}, not 127.0.0.1`);
  if (get("port") !== String(facts.port)) wrong.push(`Port ${get("port") ?? "?"}, not ${facts.port}`);
  if (get("hostkeyalias") !== facts.alias)
    wrong.push(`HostKeyAlias ${get("hostkeyalias") ?? "none"}, not ${facts.alias}`);
  if (get("user") !== "builder") wrong.push(`User ${get("user") ?? "?"}, not builder`);
  if (wrong.length > 0 && get("hostname") === facts.alias && get("hostkeyalias") === undefined) {
    // Nothing of the file applied: the Include is there, but not where ssh reads it for this host.
    return check(
      name,
      "fail",
      `ssh applies nothing of ${facts.path} to ${facts.alias} (it would connect to the name ${facts.alias}, port ${get("port") ?? "?"}): the Include in ${facts.systemConfigPath} is inside a Host or Match block?`,
      `Move \`Include ${facts.path.slice(0, facts.path.lastIndexOf("/"))}/*.conf\` to the top of ${facts.systemConfigPath}, before any Host or Match line.`,
    );
  }
  if (wrong.length > 0) {
    const ownText = facts.content.kind === "text" ? facts.content.text : undefined;
    const fileSays =
      ownText !== undefined && new RegExp(`^\\s*Port\\s+${facts.port}\\s*$`, "mi").test(ownText);
    return check(
      name,
      "fail",
      `ssh resolves ${facts.alias} to ${wrong.join(", ")}${fileSays ? `: ${facts.path} says otherwise, so an entry ssh reads first (root's ~/.ssh/config, or an earlier Host block in ${facts.systemConfigPath}) sets it` : ""}`,
      fileSays
        ? `Find it with \`sudo ssh -G ${facts.alias}\` and remove it, or put the Include of ${facts.path} first.`
        : install,
    );
  }
  // ssh refuses to connect when the folder of its connection-reuse socket is missing.
  const controlPath = get("controlpath");
  if (
    get("controlmaster") !== "false" &&
    controlPath !== undefined &&
    controlPath !== "none" &&
    facts.controlDirExists === false
  ) {
    const dir = controlPath.slice(0, controlPath.lastIndexOf("/"));
    return check(
      name,
      "fail",
      `ssh reuses connections through sockets in ${dir}, which does not exist: ssh cannot connect`,
      `${install} (it makes the folder), or \`sudo mkdir -m 700 ${dir}\`.`,
    );
  }
  const unread =
    facts.content.kind === "text"
      ? ""
      : ` (${facts.path}: ${facts.content.kind === "root-only" ? ROOT_ONLY : "unreadable"})`;
  return check(
    name,
    "ok",
    `${facts.alias} → 127.0.0.1:${facts.port}, HostKeyAlias ${facts.alias}, user builder (${facts.path}, included by ${facts.systemConfigPath})${unread}`,
  );
}

/**
 * Other known_hosts entries for the builder. Nix hands ssh the pinned key in a known-hosts file of
 * its own (`-oUserKnownHostsFile=TMP/host-key`, libstore/ssh.cc), so root's ~/.ssh/known_hosts is not
 * read by its ssh at all, and the global /etc/ssh/ssh_known_hosts is read beside Nix's file: ssh
 * accepts the host when any entry matches (OpenSSH hostfile.c, check_hostkeys_by_key_or_type), so a
 * stale key there only trips a plain `sudo ssh ALIAS`. A `@revoked` line for the pinned key in a
 * global file does make Nix's ssh refuse the builder.
 */
export function checkKnownHosts(facts: {
  readonly alias: string;
  readonly port: number;
  /** "type blob" of the key the machines line pins (or this install's host key). */
  readonly pinnedKey: string | undefined;
  readonly files: readonly {
    readonly path: string;
    /** user: replaced by Nix's own file; global: read beside it. */
    readonly kind: "user" | "global";
    readonly content: FileText;
  }[];
}): Check {
  const name = "known hosts";
  const names = [facts.alias, `[127.0.0.1]:${facts.port}`];
  const revoked: string[] = [];
  const stale: { path: string; line: number; host: string }[] = [];
  const rootOnly: string[] = [];
  for (const file of facts.files) {
    if (file.content.kind === "root-only") rootOnly.push(file.path);
    if (file.content.kind !== "text") continue;
    for (const [index, host] of names.entries()) {
      for (const entry of knownHostsFor(file.content.text, [host])) {
        if (entry.marker === "revoked") {
          if (file.kind === "global" && index === 0 && entry.key === facts.pinnedKey) {
            revoked.push(`${file.path} line ${entry.line}`);
          }
        } else if (
          entry.marker === undefined &&
          facts.pinnedKey !== undefined &&
          entry.key !== facts.pinnedKey
        ) {
          stale.push({ path: file.path, line: entry.line, host });
        }
      }
    }
  }
  const unread = rootOnly.length > 0 ? `; ${rootOnly.join(", ")}: ${ROOT_ONLY}` : "";
  if (revoked.length > 0) {
    return check(
      name,
      "fail",
      `${revoked.join(", ")} marks the builder's host key @revoked: ssh refuses it ("REVOKED HOST KEY DETECTED"), Nix's pin or not`,
      `Remove that line (\`@revoked ${facts.alias} …\`).`,
    );
  }
  if (stale.length > 0) {
    const kindOf = (path: string) => facts.files.find((f) => f.path === path)?.kind ?? "global";
    const said = stale.map((s) => {
      const why =
        s.host !== facts.alias
          ? "ssh looks the builder up by its HostKeyAlias, never by this name"
          : kindOf(s.path) === "user"
            ? "Nix's ssh does not read this file (Nix replaces it with a known-hosts file of its own, holding the pin)"
            : "Nix's ssh reads it beside its own pin, and accepts the host when any entry matches";
      return `${s.path} line ${s.line} holds another key for ${s.host} (${why})`;
    });
    const removals = [...new Set(stale.map((s) => `sudo ssh-keygen -R '${s.host}' -f ${s.path}`))];
    return check(
      name,
      "warn",
      `${said.join("; ")}: Nix's builds are not affected, but a plain \`sudo ssh ${facts.alias}\` refuses the builder${unread}`,
      `Remove the old key: ${removals.join("; ")}`,
    );
  }
  const read = facts.files.filter((f) => f.content.kind === "text").map((f) => f.path);
  return check(
    name,
    "ok",
    `${read.length > 0 ? `no other key for ${facts.alias} in ${read.join(", ")}` : "no known_hosts file to conflict with the pin"}${unread}`,
  );
}

/**
 * What a failed check build's output says went wrong, named by the file to fix. The patterns are
 * ssh's and Nix's own messages (seen here with OpenSSH 9.2 and Nix 2.8).
 */
export function diagnoseBuildFailure(
  output: string,
  files: {
    readonly machines: string;
    readonly sshConfig: string;
    readonly systemSshConfig: string;
    readonly key: string;
    readonly alias: string;
    readonly system: string;
  },
): { readonly cause: string; readonly fix: string; readonly generic?: boolean } | undefined {
  const install = "Run `linux-builder install` again.";
  // ssh's messages about another builder in the machines file are not this builder's.
  const aboutUs = output.includes(files.alias);
  if (aboutUs && /REVOKED HOST KEY|was revoked/.test(output)) {
    return {
      cause: "ssh found the builder's host key marked @revoked in a known_hosts file",
      fix: `Remove the \`@revoked ${files.alias}\` line (see the known hosts check).`,
    };
  }
  if (aboutUs && /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/.test(output)) {
    return {
      cause: `ssh refused the builder's host key: the key pinned in ${files.machines} is not the one the builder has`,
      fix: install,
    };
  }
  if (output.includes(`Could not resolve hostname ${files.alias}:`)) {
    return {
      cause: `ssh does not know ${files.alias}: ${files.sshConfig} is missing, or ${files.systemSshConfig} does not include it`,
      fix: `Add \`Include ${files.sshConfig.slice(0, files.sshConfig.lastIndexOf("/"))}/*.conf\` at the top of ${files.systemSshConfig}, and run \`linux-builder install\` again.`,
    };
  }
  if (/unix_listener: cannot bind to path/.test(output)) {
    return {
      cause: "ssh cannot make its connection-reuse socket (its ControlPath folder is missing)",
      fix: `${install} (it makes the folder)`,
    };
  }
  if (aboutUs && /Load key .*(Permission denied|No such file)|no such identity/i.test(output)) {
    return { cause: `ssh cannot read the key ${files.key}`, fix: install };
  }
  if (aboutUs && /Permission denied \(publickey/.test(output)) {
    return { cause: `the builder refused the key ${files.key}: it is not this builder's`, fix: install };
  }
  if (aboutUs && /Connection refused|Connection timed out/.test(output)) {
    return {
      cause: `nothing answered on the port ${files.sshConfig} names`,
      fix: "Is the builder running on that port? `linux-builder status`; else run `linux-builder install` again.",
    };
  }
  if (/bad machine specification/.test(output)) {
    return {
      cause: `Nix cannot read ${files.machines}`,
      fix: `Fix the line the machines file check names in ${files.machines}.`,
    };
  }
  if (
    new RegExp(`cannot (build on|open connection to remote store) 'ssh(-ng)?://builder@${files.alias}'`).test(
      output,
    )
  ) {
    // Through the daemon, ssh's own message goes to the daemon's log, not to the client.
    return {
      cause: `Nix could not connect to builder@${files.alias} (ssh's own message is in the Nix daemon's log when the daemon ran it)`,
      fix: "The Nix daemon's log says why: `journalctl -u nix-daemon` (Linux), /var/log/nix-daemon.log (macOS).",
      generic: true,
    };
  }
  if (
    /Failed to find a machine for remote build|unable to start any build|required system or feature not available/.test(
      output,
    )
  ) {
    return {
      cause: `Nix has no builder for ${files.system}: its builders setting does not read ${files.machines}, or no line there serves ${files.system}`,
      fix: "See the builders setting and machines line checks.",
      generic: true,
    };
  }
  return undefined;
}

/**
 * The CAs the guest will trust besides Debian's set (ca-certificates.ts): where they come from, or
 * why the caCertificates setting stops the next start.
 */
export function checkCaCertificates(
  facts: GuestCas | { readonly error: { readonly message: string; readonly hint: string | undefined } },
): Check {
  const name = "ca-certificates";
  if ("error" in facts) return check(name, "fail", facts.error.message, facts.error.hint);
  if (facts.warning !== undefined)
    return check(name, "warn", facts.warning, "Set caCertificates to a PEM file.");
  if (facts.count === 0) return check(name, "ok", "Debian's set");
  return check(name, "ok", `Debian's set, and ${facts.count} from ${facts.source}`);
}

// ---------------------------------------------------------------------------------------------------
// The running builder and a real build through it

export function checkBuilder(facts: {
  readonly pid: number | undefined;
  readonly port: number | undefined;
  readonly configuredPort: number;
  readonly accel: string | undefined;
  readonly uptimeSeconds: number | undefined;
  readonly ready: boolean;
}): Check {
  const name = "builder";
  if (facts.pid === undefined) return check(name, "warn", "not running", "Run `linux-builder start`.");
  const port = facts.port ?? facts.configuredPort;
  const where = `pid ${facts.pid}, ${facts.accel ?? "?"}, 127.0.0.1:${port}`;
  const moved =
    port !== facts.configuredPort
      ? ` (started on port ${port}; the config now says ${facts.configuredPort})`
      : "";
  if (facts.ready) return check(name, "ok", `running (${where}), ready${moved}`);
  const uptime = facts.uptimeSeconds === undefined ? "" : `, up ${facts.uptimeSeconds} s`;
  return check(
    name,
    "fail",
    `running (${where}${uptime}) but its ssh and Nix daemon do not answer${moved}`,
    "It may still be booting: `linux-builder logs` shows its console; `linux-builder restart` starts it afresh.",
  );
}

/**
 * The derivation the check build builds: it records the kernel it ran on, and a nonce makes it new
 * each time, so Nix really builds it rather than finding it in a store.
 */
export function checkBuildExpression(system: string, nonce: string): string {
  const script = 'read r < /proc/sys/kernel/osrelease; echo "built on $r" > $out';
  return `derivation { name = "linux-builder-doctor"; system = ${JSON.stringify(system)}; builder = "/bin/sh"; args = [ "-c" ${JSON.stringify(script)} ]; nonce = ${JSON.stringify(nonce)}; }`;
}

export type CheckBuildFacts =
  | { readonly kind: "skipped"; readonly reason: string; readonly fix?: string }
  | {
      readonly kind: "failed";
      readonly message: string;
      /**
       * What the output says went wrong, and which file to fix (diagnoseBuildFailure); generic when
       * it cannot name the file (the failing checks before it then do).
       */
      readonly diagnosis?: { readonly cause: string; readonly fix: string; readonly generic?: boolean };
    }
  | {
      readonly kind: "built";
      /** What the output file says. */
      readonly output: string;
      readonly seconds: number;
      /** The builder's kernel (/proc/sys/kernel/osrelease there). */
      readonly guestKernel: string;
      /**
       * Whether ssh went through a connection it had open already (ControlMaster): the host key was
       * checked when that connection opened, not for this build.
       */
      readonly reusedConnection?: boolean;
    };

/**
 * The check build's verdict. `failing` are the static checks that failed before it (machines line,
 * ssh alias…): a failed build points at them, as they name the file to fix.
 */
export function checkBuild(facts: CheckBuildFacts, failing: readonly Check[] = []): Check {
  const name = "check build";
  if (facts.kind === "skipped") return check(name, "warn", facts.reason, facts.fix);
  if (facts.kind === "failed") {
    const cause = facts.diagnosis === undefined ? "" : `${facts.diagnosis.cause} (`;
    const seeAlso =
      failing.length > 0
        ? `See the failing ${failing.map((c) => c.name).join(", ")} check${failing.length === 1 ? "" : "s"} above. `
        : "";
    return check(
      name,
      "fail",
      `nix-build through the builder, as the Nix daemon runs it, failed: ${cause}${facts.message}${cause === "" ? "" : ")"}`,
      facts.diagnosis?.generic === true && failing.length > 0
        ? `${seeAlso.replace(/\. $/, ": it names the file to fix.")}`
        : facts.diagnosis !== undefined
          ? `${seeAlso}${facts.diagnosis.fix}`
          : `${seeAlso}\`linux-builder logs\` shows the builder's console; \`linux-builder ssh\` logs in to look.`,
    );
  }
  const built = /^built on (\S+)\s*$/.exec(facts.output)?.[1];
  if (built === undefined) {
    return check(
      name,
      "fail",
      `the output is not what the derivation writes: "${facts.output.trim().slice(0, 200)}"`,
    );
  }
  if (built !== facts.guestKernel.trim()) {
    return check(
      name,
      "fail",
      `it was built on kernel ${built}, not on the builder (kernel ${facts.guestKernel.trim()}): another builder took it`,
      "Check the builders in Nix's machines file: another one serves this system.",
    );
  }
  const reused = facts.reusedConnection
    ? " (through ssh's open connection: the host key was checked when it opened, up to a minute ago)"
    : "";
  return check(
    name,
    "ok",
    `built on the builder (kernel ${built}) in ${facts.seconds.toFixed(1)} s${reused}`,
  );
}

// ---------------------------------------------------------------------------------------------------
// The report

export function worstStatus(checks: readonly Check[]): CheckStatus {
  if (checks.some((c) => c.status === "fail")) return "fail";
  return checks.some((c) => c.status === "warn") ? "warn" : "ok";
}

const LABEL: Record<CheckStatus, string> = { ok: "ok", warn: "warn", fail: "FAIL" };

/** The checks as aligned text: status, name, detail; the fix on its own line below. */
export function formatChecks(checks: readonly Check[]): string {
  const nameWidth = Math.max(0, ...checks.map((c) => c.name.length));
  const lines: string[] = [];
  for (const c of checks) {
    lines.push(`${LABEL[c.status].padEnd(4)}  ${c.name.padEnd(nameWidth)}  ${c.detail}`);
    if (c.fix !== undefined && c.status !== "ok") lines.push(`${" ".repeat(6 + nameWidth + 2)}fix: ${c.fix}`);
  }
  const failures = checks.filter((c) => c.status === "fail").length;
  const warnings = checks.filter((c) => c.status === "warn").length;
  const plural = (n: number, word: string) => `${n} ${word}${n === 1 ? "" : "s"}`;
  lines.push(
    "",
    failures + warnings === 0
      ? "All checks passed."
      : `${plural(failures, "failure")}, ${plural(warnings, "warning")}.`,
  );
  return `${lines.join("\n")}\n`;
}
