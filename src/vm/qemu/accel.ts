import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { access, readFile } from "node:fs/promises";
import { z } from "zod";
import { writeFileAtomic } from "../../fs/write-file-atomic.js";
import type { Host } from "../../host/host.js";
import { parseJsonAs } from "../../json.js";
import type { AccelChoice, AccelRequest } from "../backend.js";
import type { Accelerator } from "./argv.js";

/**
 * Boots the kernel alone under KVM with a deadline: with no root it panics at once and QEMU exits
 * (-no-reboot). On some machines /dev/kvm exists and answers, yet guests hang right after the kernel
 * starts (broken nested virtualisation), so only a boot proves KVM works.
 */
export async function probeKvm(
  qemu: string,
  kernel: string,
  deadlineMs: number,
): Promise<{ works: boolean; reason: string }> {
  return new Promise((resolve) => {
    const child = spawn(
      qemu,
      [
        "-nodefaults",
        "-no-user-config",
        "-display",
        "none",
        "-machine",
        "q35,accel=kvm",
        "-cpu",
        "host",
        "-m",
        "256M",
        "-kernel",
        kernel,
        "-append",
        "console=ttyS0 panic=-1",
        "-serial",
        "stdio",
        "-no-reboot",
      ],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    let output = "";
    let errors = "";
    child.stdout.on("data", (chunk: Buffer) => {
      output += chunk.toString("latin1");
    });
    child.stderr.on("data", (chunk: Buffer) => {
      errors += chunk.toString("latin1");
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill("SIGKILL");
    }, deadlineMs);
    child.on("error", (error) => resolve({ works: false, reason: error.message }));
    child.on("exit", () => {
      clearTimeout(timer);
      if (/Kernel panic|VFS: Unable to mount root/.test(output)) resolve({ works: true, reason: "" });
      else if (timedOut)
        resolve({ works: false, reason: `the guest hung (no kernel panic within ${deadlineMs / 1000} s)` });
      else resolve({ works: false, reason: `QEMU failed: ${errors.trim().split("\n")[0] ?? "no message"}` });
    });
  });
}

/**
 * accel.json in the state folder: the KVM probe's verdict, remembered per QEMU and kernel (`key`).
 * Declared once here; the type is derived from the schema.
 */
export const accelCacheSchema = z.object({
  key: z.string(),
  kvm: z.boolean(),
  /** Why the probe failed; empty when it passed. */
  reason: z.string().default(""),
});

export type AccelCache = z.infer<typeof accelCacheSchema>;

/** accel.json's text as a verdict, or undefined when it is not one (then the probe runs again). */
export function parseAccelCache(text: string): AccelCache | undefined {
  return parseJsonAs(accelCacheSchema, text);
}

/**
 * The accelerator to use: an explicit choice as it is; `auto` picks hvf on macOS and KVM on Linux
 * when the guest's architecture is the host's and KVM passes a probe boot (remembered in
 * `cacheFile` per QEMU and kernel), else TCG with a warning.
 */
export async function chooseAccel(
  host: Pick<Host, "kind" | "os" | "arch" | "cpuName">,
  options: AccelRequest<Accelerator> & { readonly qemu: string },
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
    await access("/dev/kvm", constants.R_OK | constants.W_OK);
  } catch {
    return { accel: "tcg", warning: "/dev/kvm is missing or not accessible: using TCG (slow)" };
  }
  const key = `${options.qemu} ${options.kernelId}`;
  const cached = parseAccelCache(await readFile(options.cacheFile, "utf8").catch(() => ""));
  let probe = cached?.key === key ? { works: cached.kvm, reason: cached.reason } : undefined;
  if (probe === undefined) {
    // The probe boots x86's q35; other guests are trusted to the accelerator as they are.
    probe =
      options.arch === "amd64"
        ? await probeKvm(options.qemu, options.kernel, 15_000)
        : { works: true, reason: "" };
    const record: AccelCache = { key, kvm: probe.works, reason: probe.reason };
    // Remembering it saves the next start a probe; a cache that cannot be written (something else
    // there, say) costs only that.
    await writeFileAtomic(options.cacheFile, `${JSON.stringify(record)}\n`, 0o644).catch(() => undefined);
  }
  if (probe.works) return { accel: "kvm" };
  return {
    accel: "tcg",
    warning: `/dev/kvm is there, but a KVM probe boot failed (${probe.reason}): using TCG (slow)`,
  };
}
