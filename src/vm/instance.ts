import { readFile } from "node:fs/promises";
import { z } from "zod";
import { writeFileAtomic } from "../fs/write-file-atomic.js";
import { ARCHITECTURES, type Arch } from "../image/guest/profile.js";
import { parseJsonAs } from "../json.js";
import { ACCELERATORS } from "./qemu/argv.js";
import type { StateLayout } from "./state.js";

/**
 * instance.json: what `start` and `run` record about the running VM, read by status, ssh, stop,
 * console and doctor. Declared once here; the type is derived from the schema. Keys this version
 * does not know (a newer linux-builder's) are dropped, not refused.
 */
export const instanceSchema = z.object({
  pid: z.number().int().positive(),
  /** Where clients reach the guest's sshd: the backend's forward, or the service's front door in front of it. */
  port: z.number().int().min(1).max(65_535),
  /** With the service (`serve`): the backend's own forward behind the front door, on another port. */
  forwardPort: z.number().int().min(1).max(65_535).optional(),
  // The backend's accelerators (QEMU's: kvm, hvf, tcg), as records have always held them.
  accel: z.enum(ACCELERATORS),
  arch: z.enum(Object.keys(ARCHITECTURES) as [Arch, ...Arch[]]),
  imageId: z.string().min(1),
  startedAt: z.string().datetime({ offset: true }),
  cpus: z.number().int().positive(),
  memoryMiB: z.number().int().positive(),
  /** Run attached to a terminal (`run`): the console is there, not on console.sock. */
  attached: z.boolean().optional(),
  /** Where this boot's output starts in console.log (earlier boots' output comes before). */
  consoleOffset: z.number().int().nonnegative().optional(),
  /** The CAs this boot's guest trusts besides Debian's set, and where they came from. */
  caCertificates: z.string().optional(),
});

export type InstanceInfo = Readonly<z.infer<typeof instanceSchema>>;

/** instance.json's text as InstanceInfo, or undefined when it is not JSON or not an instance record. */
export function parseInstance(text: string): InstanceInfo | undefined {
  return parseJsonAs(instanceSchema, text);
}

/** The running VM's record; undefined when there is none or it cannot be read (treated as unknown). */
export async function readInstance(layout: StateLayout): Promise<InstanceInfo | undefined> {
  const text = await readFile(layout.instance, "utf8").catch(() => undefined);
  return text === undefined ? undefined : parseInstance(text);
}

export async function writeInstance(layout: StateLayout, instance: InstanceInfo): Promise<void> {
  await writeFileAtomic(layout.instance, `${JSON.stringify(instance, null, 2)}\n`, 0o644);
}
