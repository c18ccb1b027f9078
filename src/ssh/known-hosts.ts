/**
 * OpenSSH known_hosts lines, and which of them speak for a host name (sshd(8) "SSH_KNOWN_HOSTS FILE
 * FORMAT"): an optional marker (@revoked, @cert-authority), comma-separated host patterns (`*` and
 * `?` wildcards, `!` negation, `[host]:port` for a port other than 22, or one hashed name
 * `|1|base64(salt)|base64(HMAC-SHA1(salt, name))`), the key type and its base64 blob.
 */
import { createHmac } from "node:crypto";

export interface KnownHostsEntry {
  readonly line: number;
  readonly marker: "revoked" | "cert-authority" | undefined;
  /** "type blob", comparable with a public key line's first two fields. */
  readonly key: string;
}

function globToRegExp(pattern: string): RegExp {
  const body = pattern
    .replace(/[.+^${}()|[\]\\]/g, "\\$&")
    .replace(/\*/g, ".*")
    .replace(/\?/g, ".");
  return new RegExp(`^${body}$`, "i");
}

function hashedMatches(pattern: string, name: string): boolean {
  const [, magic, salt, hash] = pattern.split("|");
  if (magic !== "1" || salt === undefined || hash === undefined) return false;
  const computed = createHmac("sha1", Buffer.from(salt, "base64")).update(name).digest("base64");
  return computed === hash;
}

/** Whether a line's host field speaks for `name` (a negated pattern that matches excludes it). */
export function hostFieldMatches(field: string, name: string): boolean {
  if (field.startsWith("|")) return hashedMatches(field, name);
  let matched = false;
  for (const pattern of field.split(",")) {
    if (pattern.startsWith("!")) {
      if (globToRegExp(pattern.slice(1)).test(name)) return false;
    } else if (globToRegExp(pattern).test(name)) {
      matched = true;
    }
  }
  return matched;
}

/** The entries of a known_hosts text for any of `names`, with their line numbers. */
export function knownHostsFor(text: string, names: readonly string[]): KnownHostsEntry[] {
  const found: KnownHostsEntry[] = [];
  text.split("\n").forEach((raw, index) => {
    const fields = raw.trim().split(/\s+/);
    if (fields[0] === undefined || fields[0] === "" || fields[0].startsWith("#")) return;
    let marker: KnownHostsEntry["marker"];
    if (fields[0] === "@revoked" || fields[0] === "@cert-authority") {
      marker = fields[0] === "@revoked" ? "revoked" : "cert-authority";
      fields.shift();
    }
    const [hosts, type, blob] = fields;
    if (hosts === undefined || type === undefined || blob === undefined) return;
    if (!names.some((name) => hostFieldMatches(hosts, name))) return;
    found.push({ line: index + 1, marker, key: `${type} ${blob}` });
  });
  return found;
}
