/**
 * What the guest's /init says on the console, and how the host reads it: the one place the lines
 * are spelled on this side (guest/init.sh prints them; test/unit/guest/console-lines.test.ts checks
 * that it still does). Pure text in, facts out.
 *
 * The host waits for one of them before its first ssh: QEMU's user networking accepts a connection
 * before the guest can answer it, and an ssh started too early sat in a half-open connection for
 * seconds (start → ready took 7.2 s with the guest ready at 2.7 s).
 */

/** Every line /init prints starts so. */
const PREFIX = "linux-builder: ";

/** The lines the host acts on, without the prefix; those ending in "at" carry a kernel uptime ("at 2.74s"). */
export const GUEST_LINES = {
  /** /init's second stage began (its root moved): where the boot's own work starts. */
  stage2: "stage 2 at",
  /** sshd listens and the network is up: the host may start its ssh handshake. */
  sshd: "SSHD at",
  /** An interpreter for another Linux system was registered with binfmt_misc; its name follows (qemu-aarch64). */
  emulating: "emulating with",
  /** The Nix daemon answers too: the builder is ready. */
  ready: "READY at",
  /** The boot cannot go on; the reason follows, then a shell for a human on the console. */
  failed: "FAILED:",
  /** The last line of a clean stop, after /nix is unmounted. */
  poweringOff: "powering off",
} as const;

export type GuestLine = keyof typeof GUEST_LINES;

/** How far the boot got. */
export type GuestSignal =
  | { readonly kind: "sshd" }
  | { readonly kind: "ready" }
  | { readonly kind: "failed"; readonly reason: string };

function said(line: GuestLine): string {
  return `${PREFIX}${GUEST_LINES[line]}`;
}

/** Where `line` first appears in `text`, or -1. */
function indexOfLine(text: string, line: GuestLine): number {
  return text.indexOf(said(line));
}

/**
 * How far the boot got, from what the console printed: FAILED over READY over SSHD (sshd listens,
 * the rest of the boot still going), or undefined for none yet. A line counts once its words are
 * there, so a READY cut in the middle by a read is not READY yet.
 */
export function scanConsole(text: string): GuestSignal | undefined {
  const failedAt = indexOfLine(text, "failed");
  if (failedAt !== -1) {
    const rest = text.slice(failedAt + said("failed").length);
    return { kind: "failed", reason: (/^[^\r\n]*/.exec(rest)?.[0] ?? "").trim() };
  }
  if (reachedReady(text)) return { kind: "ready" };
  if (indexOfLine(text, "sshd") !== -1) return { kind: "sshd" };
  return undefined;
}

/** The guest said READY. */
export function reachedReady(text: string): boolean {
  return indexOfLine(text, "ready") !== -1;
}

/** The guest stopped cleanly: /init printed its last line before powering off. */
export function poweredOff(text: string): boolean {
  return indexOfLine(text, "poweringOff") !== -1;
}

/**
 * Why the guest said its boot failed, if it did before READY: after READY the console is a login,
 * and anything there was typed, not said by /init.
 */
export function failureBeforeReady(text: string): string | undefined {
  const readyAt = indexOfLine(text, "ready");
  const signal = scanConsole(readyAt === -1 ? text : text.slice(0, readyAt));
  return signal?.kind === "failed" ? signal.reason : undefined;
}

/** The binfmt_misc entries the guest said it registered (binfmt.ts's names), in its order. */
export function registeredEmulators(text: string): string[] {
  // The prefix and the words are plain letters: nothing to escape in the pattern.
  return [...text.matchAll(new RegExp(`${said("emulating")} ([a-z0-9_-]+) \\(binfmt_misc\\)`, "g"))].map(
    (match) => match[1] as string,
  );
}

/** The kernel uptime (seconds) a line such as `READY at 2.74s` carries, if the guest printed it whole. */
export function uptimeAt(text: string, line: "stage2" | "sshd" | "ready"): number | undefined {
  const at = indexOfLine(text, line);
  if (at === -1) return undefined;
  const seconds = /^ ([0-9]+(?:\.[0-9]+)?)s/.exec(text.slice(at + said(line).length));
  return seconds ? Number(seconds[1]) : undefined;
}

/**
 * The kernel's last words, if the console shows it crashed: a panic, or an Oops (which the
 * guest's oops=panic turns into one).
 */
export function kernelCrash(text: string): string | undefined {
  return /(Kernel panic[^\r\n]*|Oops: [^\r\n]*)/.exec(text)?.[1]?.trim();
}
