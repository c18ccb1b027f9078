import { z } from "zod";
import { STOP_OUTCOMES } from "../vm/lifecycle/stop.js";

/**
 * The service's control socket (`serve.sock` in the state folder, 0600 in a 0700 folder): how the
 * CLI (status, start, stop, restart, run, logs) speaks to a running `linux-builder serve`. One JSON
 * request per connection, one JSON line back. Declared once here; both halves derive their types
 * from these schemas, so they cannot disagree.
 */

export const controlRequestSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("status") }).strict(),
  /** Boot the VM if it is off (or join a boot under way) and answer once it is ready, or the time ran out (0: at once). */
  z.object({ op: z.literal("start"), timeoutMs: z.number().int().nonnegative() }).strict(),
  /** Power the VM off cleanly (escalating after `timeoutMs`; 0: at once); the front door stays, and boots it again on the next connection. */
  z.object({ op: z.literal("stop"), timeoutMs: z.number().int().nonnegative() }).strict(),
]);

export type ControlRequest = z.infer<typeof controlRequestSchema>;

/** Where the VM stands, as the service sees it. */
export const VM_STATES = ["off", "booting", "up", "stopping"] as const;
export type VmState = (typeof VM_STATES)[number];

export const serviceStatusSchema = z
  .object({
    /** The serve process. */
    pid: z.number().int().positive(),
    /** The front door: 127.0.0.1:port, where Nix and `linux-builder ssh` connect. */
    port: z.number().int().min(1).max(65_535),
    /** False while the port is still held by a builder started without the service (it waits for it to stop). */
    listening: z.boolean(),
    startedAt: z.string().datetime({ offset: true }),
    /** The setting in force; 0: never powered off for idleness. */
    idleMinutes: z.number().nonnegative(),
    vm: z
      .object({
        state: z.enum(VM_STATES),
        /** The VM's process while it runs. */
        pid: z.number().int().positive().nullable(),
        /** Where the backend's forward to the guest's sshd listens (internal; the front door's target). */
        forwardPort: z.number().int().min(1).max(65_535).nullable(),
        /** When it entered this state. */
        since: z.string().datetime({ offset: true }),
      })
      .strict(),
    /** Front-door connections open now (carried to the guest, or waiting for its boot). */
    connections: z.number().int().nonnegative(),
    /** Of those, the ones waiting for the boot. */
    waiting: z.number().int().nonnegative(),
    /** Builds the guest reported running at its last look (null: not looked, or could not tell). */
    guestBuilds: z.number().int().nonnegative().nullable(),
    /** Seconds until the idle power-off; null when it is not counting (VM off, a connection open, idleMinutes 0). */
    idlePowerOffInSeconds: z.number().nonnegative().nullable(),
    /** Connections carried since serve started, and boots it made. */
    totals: z
      .object({ connections: z.number().int().nonnegative(), boots: z.number().int().nonnegative() })
      .strict(),
    /** Why the last boot failed (what the waiting connections were closed for), if it did. */
    lastError: z.string().nullable(),
  })
  .strict();

export type ServiceStatus = z.infer<typeof serviceStatusSchema>;

export const controlErrorSchema = z
  .object({ code: z.string(), message: z.string(), hint: z.string().optional() })
  .strict();

export const controlResponseSchema = z.discriminatedUnion("op", [
  z.object({ op: z.literal("status"), status: serviceStatusSchema }).strict(),
  z
    .object({
      op: z.literal("start"),
      status: serviceStatusSchema,
      /** This request made the service boot the VM (else it was up, or booting already). */
      booted: z.boolean(),
      ready: z.boolean(),
      /** Seconds this request waited. */
      waitedSeconds: z.number().nonnegative(),
    })
    .strict(),
  z
    .object({
      op: z.literal("stop"),
      status: serviceStatusSchema,
      outcome: z.enum(STOP_OUTCOMES),
      seconds: z.number().nonnegative(),
    })
    .strict(),
  /** The request failed: a LinuxBuilderError's code, message and hint, as the CLI shows them. */
  z.object({ op: z.literal("error"), error: controlErrorSchema }).strict(),
]);

export type ControlResponse = z.infer<typeof controlResponseSchema>;
