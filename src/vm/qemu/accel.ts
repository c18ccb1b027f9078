import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, readFile, stat } from "node:fs/promises";
import { release } from "node:os";
import { z } from "zod";
import { LinuxBuilderError } from "../../errors.js";
import { writeFileAtomic } from "../../fs/write-file-atomic.js";
import type { Host } from "../../host/host.js";
import { parseJsonAs } from "../../json.js";
import type { AccelChoice, AccelRequest } from "../backend.js";
import { type Accelerator, machineOption } from "./argv.js";
import { commandPath } from "./command-path.js";
import { qemuFirmware } from "./firmware.js";

/**
 * What a probe boot showed: KVM works, QEMU failed (an error, at once), or the guest hung. A failure
 * is `transient` when it says nothing of KVM: it is not remembered (see transientFailure).
 */
export type ProbeVerdict =
  | { readonly kind: "works" }
  | { readonly kind: "failed"; readonly reason: string; readonly transient?: true }
  | { readonly kind: "hung"; readonly reason: string };

export interface ProbeLimits {
  /** The whole probe: a guest that keeps printing but never reaches the panic hangs too. */
  readonly totalMs: number;
  /** No console output for this long (from QEMU's start or the last line) is a hang. */
  readonly quietMs: number;
  /** Ends the probe (the QEMU is killed); probeKvm then rejects with vm.cancelled. */
  readonly signal?: AbortSignal;
}

/**
 * A working KVM reaches the panic in well under a second; a broken one hangs with nothing more on
 * the console. 5 s of silence leaves a loaded machine's working KVM a wide margin (the first line
 * comes after QEMU loads the kernel and the guest sets up its console), and caps what a hang costs.
 */
export const PROBE_LIMITS: Omit<ProbeLimits, "signal"> = { totalMs: 15_000, quietMs: 5_000 };

/**
 * Boots the kernel alone under KVM: with no root it panics at once and QEMU exits (-no-reboot). On
 * some machines /dev/kvm exists and answers, yet guests hang right after the kernel starts (broken
 * nested virtualisation), or QEMU fails setting the vCPU up: only a boot proves KVM works. The verdict
 * comes as soon as it is known: the panic on the console, QEMU's exit, or a deadline.
 */
export function probeKvm(qemu: string, kernel: string, limits: ProbeLimits): Promise<ProbeVerdict> {
  return new Promise((resolve, reject) => {
    if (limits.signal?.aborted) {
      reject(cancelled());
      return;
    }
    const child = spawn(qemu, probeArgs(qemu, kernel), { stdio: ["ignore", "pipe", "pipe"] });
    let output = "";
    let errors = "";
    let settled = false;
    const settle = (verdict: ProbeVerdict | Error) => {
      if (settled) return;
      settled = true;
      clearTimeout(total);
      clearTimeout(quiet);
      limits.signal?.removeEventListener("abort", onAbort);
      // Whatever QEMU still does, the verdict is in: it is not left running.
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
      if (verdict instanceof Error) reject(verdict);
      else resolve(verdict);
    };
    const hung = (why: string) => settle({ kind: "hung", reason: `the guest hung (${why})` });
    const total = setTimeout(() => hung(`no kernel panic within ${limits.totalMs / 1000} s`), limits.totalMs);
    const silence = () =>
      setTimeout(() => hung(`no console output for ${limits.quietMs / 1000} s`), limits.quietMs);
    let quiet = silence();
    const onAbort = () => settle(cancelled());
    limits.signal?.addEventListener("abort", onAbort, { once: true });
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("latin1");
      if (/Kernel panic|VFS: Unable to mount root/.test(output)) settle({ kind: "works" });
      if (settled) return;
      clearTimeout(quiet);
      quiet = silence();
    });
    child.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString("latin1");
    });
    child.on("error", (error) => settle({ kind: "failed", reason: error.message }));
    // `close`, not `exit`: the console's last lines (the panic) are read before the verdict.
    child.on("close", () => {
      if (/Kernel panic|VFS: Unable to mount root/.test(output)) settle({ kind: "works" });
      else {
        const reason = `QEMU failed: ${firstLine(errors) ?? "no message"}`;
        settle(
          transientFailure(errors, kernel)
            ? { kind: "failed", reason, transient: true }
            : { kind: "failed", reason },
        );
      }
    });
  });
}

/**
 * The probe's argv: the builder's own machine (argv.ts) and firmware (firmware.ts), as `start` boots
 * them under KVM, so that the verdict vouches for that boot; the kernel alone, with no root.
 */
export function probeArgs(qemu: string, kernel: string): string[] {
  const firmware = qemuFirmware(qemu, "amd64");
  return [
    "-nodefaults",
    "-no-user-config",
    "-display",
    "none",
    "-machine",
    machineOption({ arch: "amd64", accel: "kvm" }),
    "-cpu",
    "host",
    "-m",
    "256M",
    ...(firmware === undefined ? [] : ["-bios", firmware]),
    "-kernel",
    kernel,
    "-append",
    "console=ttyS0 panic=-1",
    "-serial",
    "stdio",
    "-no-reboot",
  ];
}

/**
 * A failure that may be gone at the next start, and so is not remembered: KVM busy (EBUSY: "Could not
 * access KVM kernel module: Device or resource busy" while VirtualBox holds VT-x), or QEMU naming the
 * probe's kernel (removed while it booted, by `image prune` say). Chosen over an expiry for every
 * failure: a QEMU that fails on KVM (the MSR assertion) fails the same way each time, and would cost
 * a probe a day for nothing.
 */
export function transientFailure(stderr: string, kernel: string): boolean {
  return /\bbusy\b|EBUSY/i.test(stderr) || stderr.includes(kernel);
}

function firstLine(text: string): string | undefined {
  return text
    .trim()
    .split("\n")
    .find((line) => line.trim() !== "");
}

function cancelled(): LinuxBuilderError {
  return new LinuxBuilderError("vm.cancelled", "Cancelled: the KVM probe was stopped");
}

/**
 * accel.json in the state folder: the KVM probe's verdict, remembered per QEMU and host kernel
 * (`key`). Declared once here; the type is derived from the schema.
 */
export const accelCacheSchema = z.object({
  key: z.string(),
  kvm: z.boolean(),
  /** Why the probe failed; empty when it passed. */
  reason: z.string().default(""),
  /** The probe timed out rather than failed: remembered for HUNG_VERDICT_MS only (see chooseAccel). */
  hung: z.boolean().default(false),
  /** When it was probed (ms since the epoch). */
  probedAt: z.number().default(0),
});

export type AccelCache = z.infer<typeof accelCacheSchema>;

/** accel.json's text as a verdict, or undefined when it is not one (then the probe runs again). */
export function parseAccelCache(text: string): AccelCache | undefined {
  return parseJsonAs(accelCacheSchema, text);
}

/** How long a hang is believed: a loaded machine can starve a working KVM past the deadlines once. */
export const HUNG_VERDICT_MS = 24 * 3600_000;

/**
 * What a verdict depends on: QEMU (its KVM code: the MSR assertion some hosts hit is QEMU's), which
 * binary that is (an upgrade in place is probed again), the firmware it boots through (qboot, once
 * installed or removed, is probed again; so is every verdict from before the probe used it), and the
 * host's kernel (KVM itself, and the nested virtualisation under it). Not the guest's kernel: it is only the probe's payload, so any
 * amd64 kernel at hand can be booted while the image is composed, and a new image costs no probe.
 */
export async function accelCacheKey(qemu: string, hostRelease: string = release()): Promise<string> {
  const binary = commandPath(qemu);
  const seen = binary === undefined ? undefined : await stat(binary).catch(() => undefined);
  const identity = seen === undefined ? "missing" : `${binary} ${seen.size} ${Math.trunc(seen.mtimeMs)}`;
  const firmware = qemuFirmware(qemu, "amd64") ?? "QEMU's default firmware";
  return `${qemu} (${identity}) booting ${firmware} on Linux ${hostRelease}`;
}

/** A remembered verdict that still holds at `now`: a hard failure or a pass always, a hang for a day. */
export function cachedVerdict(
  cache: AccelCache | undefined,
  key: string,
  now: number,
): ProbeVerdict | undefined {
  if (cache === undefined || cache.key !== key) return undefined;
  if (cache.kvm) return { kind: "works" };
  if (!cache.hung) return { kind: "failed", reason: cache.reason };
  return now - cache.probedAt < HUNG_VERDICT_MS ? { kind: "hung", reason: cache.reason } : undefined;
}

export interface ChooseAccelOptions extends AccelRequest<Accelerator> {
  readonly qemu: string;
  /** KVM's device (tests pass their own). */
  readonly kvmDevice?: string;
  /** The probe's deadlines (tests shorten them). */
  readonly limits?: Omit<ProbeLimits, "signal">;
  /** The clock a hang's age is read by (tests pass their own). */
  readonly now?: () => number;
}

/**
 * The accelerator to use: an explicit choice as it is; `auto` picks hvf on macOS and KVM on Linux
 * when the guest's architecture is the host's and KVM passes a probe boot (remembered in
 * `cacheFile`), else TCG with a warning. The kernel is asked for only when a probe runs.
 *
 * A QEMU that fails is remembered until QEMU or the host's kernel changes: it failed, whatever the
 * load (unless the failure is transient: see transientFailure). A hang is remembered for a day only:
 * a starved machine may have been slow, not broken. Each warning says when it is probed again.
 */
export async function chooseAccel(
  host: Pick<Host, "kind" | "os" | "arch" | "cpuName">,
  options: ChooseAccelOptions,
): Promise<AccelChoice<Accelerator>> {
  if (options.requested !== "auto") return { accel: options.requested };
  if (host.arch !== options.arch) {
    return {
      accel: "tcg",
      warning: `the guest is ${options.arch} on a ${host.cpuName} host: emulating with TCG (slow)`,
    };
  }
  if (host.kind === "darwin") return { accel: "hvf" };
  if (host.os !== "linux")
    return { accel: "tcg", warning: "no hardware accelerator on this platform: TCG (slow)" };
  try {
    await access(options.kvmDevice ?? "/dev/kvm", constants.R_OK | constants.W_OK);
  } catch {
    return { accel: "tcg", warning: "/dev/kvm is missing or not accessible: using TCG (slow)" };
  }
  // The probe boots x86's q35; other guests are trusted to the accelerator as they are.
  if (options.arch !== "amd64") return { accel: "kvm" };
  const now = options.now ?? Date.now;
  const key = await accelCacheKey(options.qemu);
  const cached = parseAccelCache(await readFile(options.cacheFile, "utf8").catch(() => ""));
  let verdict = cachedVerdict(cached, key, now());
  if (verdict === undefined) {
    const probe = (kernel: string) =>
      probeKvm(options.qemu, kernel, {
        ...(options.limits ?? PROBE_LIMITS),
        ...(options.signal === undefined ? {} : { signal: options.signal }),
      });
    const kernel = await options.kernel();
    const besideComposition = options.composition?.running() === true;
    verdict = await probe(kernel);
    // The composition kept every core busy: a hang then may be a starved KVM, so it is not
    // remembered; the boot waits for the verdict anyway, so the probe runs again once the machine is
    // quiet, and that verdict (a second hang too) is the one remembered.
    if (verdict.kind === "hung" && besideComposition && options.composition)
      verdict = await probe(await options.composition.done());
    const record: AccelCache = {
      key,
      kvm: verdict.kind === "works",
      reason: verdict.kind === "works" ? "" : verdict.reason,
      hung: verdict.kind === "hung",
      probedAt: now(),
    };
    // Remembering it saves the next start a probe; a cache that cannot be written (something else
    // there, say) costs only that.
    if (remembered(verdict))
      await writeFileAtomic(options.cacheFile, `${JSON.stringify(record)}\n`, 0o644).catch(() => undefined);
  }
  if (verdict.kind === "works") return { accel: "kvm" };
  return {
    accel: "tcg",
    warning: `/dev/kvm is there, but a KVM probe boot failed (${verdict.reason}): using TCG (slow); ${whenProbedAgain(verdict, options.cacheFile)}`,
  };
}

function remembered(verdict: ProbeVerdict): boolean {
  return !(verdict.kind === "failed" && verdict.transient);
}

/** How the user gets KVM probed again after a failed probe. */
function whenProbedAgain(verdict: ProbeVerdict, cacheFile: string): string {
  if (!remembered(verdict)) return "it is probed again at the next start";
  const when = verdict.kind === "hung" ? "after a day" : "when QEMU or the host's kernel changes";
  return `it is probed again ${when}, or when ${cacheFile} is removed`;
}
