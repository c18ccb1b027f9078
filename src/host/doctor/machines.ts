/** The installed machines file as the Nix daemon reads it, and its line for this builder. */
import { decodePinnedKey, type MachineEntry, parseMachines, refusedBy } from "../../nix/machines-file.js";
import { type Check, check } from "./check.js";
import { type FileText, ROOT_ONLY } from "./file-text.js";
import { keyIdentity } from "./keys.js";

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
 * The installed machines line for this builder: there once, serving every system it should, logging in with the
 * installed key, and pinning this install's guest host key (the state folder's
 * keys/ssh_host_ed25519_key.pub). A pin that differs makes the daemon's ssh refuse the builder.
 */
export function checkMachinesPin(facts: {
  readonly path: string;
  readonly content: FileText;
  readonly alias: string;
  /** What this builder serves: its native system, then the emulated ones. */
  readonly systems: readonly string[];
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
  const unserved = facts.systems.filter((system) => !entry.systems.includes(system));
  if (entry.systems.length > 0 && unserved.length > 0) {
    return check(
      name,
      "fail",
      `${at(entry)} serves ${entry.systems.join(",")}, not ${unserved.join(",")}`,
      install,
    );
  }
  // Nix sends builds of every system the line lists; the guest refuses those it does not serve.
  const unsupported = entry.systems.filter((system) => !facts.systems.includes(system));
  if (unsupported.length > 0) {
    return check(
      name,
      "fail",
      `${at(entry)} lists ${unsupported.join(",")}, which this builder does not serve (it serves ${facts.systems.join(",")}): Nix sends it builds the guest refuses`,
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
    `${at(entry)}: ${entry.systems.join(",")}, key ${facts.keyPath}, pins this builder's host key`,
  );
}
