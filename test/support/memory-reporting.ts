/**
 * Free page reporting, measured from the host: QEMU's resident size (VmRSS) while the guest fills
 * its memory and after it frees it again. Shared by test/slow/memory-reporting.test.ts and the
 * bench's memory part, so both measure the same workload.
 */
import { readFile } from "node:fs/promises";

/** QEMU's resident size in bytes (VmRSS of /proc/PID/status; Linux hosts only). */
export async function residentBytes(pid: number): Promise<number> {
  const status = await readFile(`/proc/${pid}/status`, "utf8");
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(status);
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** The files the fill writes: two tmpfs (each holds at most half the guest's RAM). */
const FILES = ["/dev/shm/lb-memory-fill", "/tmp/lb-memory-fill"] as const;

/**
 * A guest shell command (as builder) that writes `mib` MiB of zeros into tmpfs files: each page
 * the guest's kernel allocates for them is one QEMU touches. It fails when a write does.
 */
export function fillCommand(mib: number): string {
  const first = Math.floor(mib / 2);
  const counts = [first, mib - first];
  return FILES.map((file, i) => `dd if=/dev/zero of=${file} bs=1M count=${counts[i]} 2>/dev/null`).join(
    " && ",
  );
}

/** The guest shell command that frees what fillCommand wrote. */
export const FREE_COMMAND = `rm -f ${FILES.join(" ")}`;

export interface ResidentSample {
  /** Seconds since the watch began. */
  readonly seconds: number;
  readonly bytes: number;
}

/**
 * Samples `pid`'s resident size every `intervalMs` until `done(bytes)` holds or `timeoutMs` passes;
 * returns every sample and whether `done` held. A process that is gone ends the watch.
 */
export async function watchResident(
  pid: number,
  done: (bytes: number) => boolean,
  timeoutMs: number,
  intervalMs = 500,
): Promise<{ samples: ResidentSample[]; reached: boolean }> {
  const started = performance.now();
  const samples: ResidentSample[] = [];
  for (;;) {
    const bytes = await residentBytes(pid).catch(() => undefined);
    if (bytes === undefined) return { samples, reached: false };
    const seconds = (performance.now() - started) / 1000;
    samples.push({ seconds, bytes });
    if (done(bytes)) return { samples, reached: true };
    if (seconds * 1000 >= timeoutMs) return { samples, reached: false };
    await new Promise((resolve) => setTimeout(resolve, intervalMs));
  }
}

export const mib = (bytes: number) => `${(bytes / 1024 ** 2).toFixed(0)} MiB`;
