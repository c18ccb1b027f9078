/** The builder's keys: the state's, and the copy install put where the Nix daemon reads it. */
import { type Check, check } from "./check.js";

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
export function keyIdentity(line: string): string {
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
