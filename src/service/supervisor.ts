import { LinuxBuilderError } from "../errors.js";
import type { Endpoint } from "../vm/backend.js";
import type { StopOutcome } from "../vm/lifecycle/stop.js";
import type { ServiceStatus, VmState } from "./control-protocol.js";

/**
 * The service's state machine: the VM off, booting, up or stopping; the front door's connections;
 * the idle timer; a VM found dead. Written against VmControl and Timers alone (the lifecycle and the
 * real clock in serve, fakes in its unit tests), so every path runs in milliseconds.
 */

/** A VM the service runs (or adopted): its process, and where the front door carries connections. */
export interface RunningVm {
  readonly pid: number;
  /** The backend's forward behind the front door; null for a VM started without the service. */
  readonly forwardPort: number | null;
  readonly target: Endpoint;
}

/** What the supervisor asks of the VM. */
export interface VmControl {
  /** Boots the VM and waits until it is ready; throws when it cannot. An abort stops what it booted. */
  boot(signal: AbortSignal): Promise<RunningVm>;
  /** Powers it off cleanly (escalating after `timeoutMs`), as `linux-builder stop` does. */
  stop(timeoutMs: number): Promise<{ readonly outcome: StopOutcome; readonly seconds: number }>;
  /** The VM's process while it runs. */
  runningPid(): Promise<number | undefined>;
  /** Processes running as build users in the guest; undefined when it cannot tell. */
  guestBuilds(vm: RunningVm): Promise<number | undefined>;
}

export interface Timers {
  now(): number;
  setTimeout(callback: () => void, ms: number): unknown;
  clearTimeout(handle: unknown): void;
}

export const realTimers: Timers = {
  now: () => Date.now(),
  setTimeout: (callback, ms) => setTimeout(callback, ms),
  clearTimeout: (handle) => clearTimeout(handle as NodeJS.Timeout),
};

/** One front-door connection, as the supervisor sees it: it can end it (a stop, a failed boot). */
export interface ConnectionHandle {
  close(): void;
}

/** A connection's claim on the VM: where to carry it once it is up, and its end. */
export interface Lease {
  /** Resolves once the VM is ready; rejects when its boot failed (the connection is then closed). */
  readonly target: Promise<Endpoint>;
  /** The connection ended (call once). */
  done(): void;
}

export interface SupervisorOptions {
  readonly control: VmControl;
  readonly timers?: Timers;
  /** 0: never powered off for idleness. */
  readonly idleMinutes: number;
  readonly log: (line: string) => void;
  /** A VM that was running when serve started (an earlier serve's): taken as up. */
  readonly adopted?: RunningVm;
  /** How often a running VM's process is looked for (a crash is noticed within this). */
  readonly watchMs?: number;
  /** How long an idle power-off may take before it escalates. */
  readonly idleStopTimeoutMs?: number;
}

/** The supervisor's part of ServiceStatus (serve adds its own pid, port, listening, startedAt). */
export type SupervisorStatus = Omit<ServiceStatus, "pid" | "port" | "listening" | "startedAt">;

type State =
  | { readonly kind: "off" }
  | { readonly kind: "booting"; readonly boot: Promise<RunningVm>; readonly abort: AbortController }
  | { readonly kind: "up"; readonly vm: RunningVm }
  | { readonly kind: "stopping"; readonly stop: Promise<StopResult> };

type StopResult = { readonly outcome: StopOutcome; readonly seconds: number };

/** How long after a look that found builds running the guest is asked again, at most. */
const BUILDS_RECHECK_MS = 30_000;

export class Supervisor {
  private state: State;
  private since: number;
  private readonly timers: Timers;
  private readonly connections = new Set<ConnectionHandle>();
  private waiting = 0;
  private guestBuilds: number | null = null;
  private lastError: string | null = null;
  private totals = { connections: 0, boots: 0 };
  private idle: { handle: unknown; firesAt: number } | undefined;
  private watch: unknown;
  private closed = false;

  constructor(private readonly options: SupervisorOptions) {
    this.timers = options.timers ?? realTimers;
    this.since = this.timers.now();
    this.state = options.adopted ? { kind: "up", vm: options.adopted } : { kind: "off" };
    if (options.adopted) {
      options.log(`adopted the running builder (pid ${options.adopted.pid})`);
      this.armIdle();
    }
    this.scheduleWatch();
  }

  /** A front-door connection arrived: it is counted now, and carried once the VM is ready. */
  open(connection: ConnectionHandle): Lease {
    this.connections.add(connection);
    // Also what tells idleFired that someone came (and maybe went) while it asked the guest.
    this.totals.connections += 1;
    this.cancelIdle();
    this.waiting += 1;
    const target = this.ready()
      .then((vm) => vm.target)
      .finally(() => {
        this.waiting -= 1;
      });
    let ended = false;
    return {
      target,
      done: () => {
        if (ended) return;
        ended = true;
        this.connections.delete(connection);
        this.armIdle();
      },
    };
  }

  /** The control socket's `start`: boots if off (or joins the boot), answers when ready or at `timeoutMs`. */
  async start(timeoutMs: number): Promise<{ booted: boolean; ready: boolean; waitedSeconds: number }> {
    const began = this.timers.now();
    // A VM up is ready once its process is seen: that look is not raced against the timeout (a
    // timeout of 0 would otherwise call a running VM not ready).
    const state = this.state;
    if (
      state.kind === "up" &&
      (await this.options.control.runningPid()) === state.vm.pid &&
      this.state === state
    ) {
      return { booted: false, ready: true, waitedSeconds: (this.timers.now() - began) / 1000 };
    }
    const request = { booted: false };
    const ready = this.ready(request);
    // The boot goes on after a timeout; its failure is then only logged (by boot()).
    ready.catch(() => {});
    let timer: unknown;
    const timedOut = new Promise<false>((resolve) => {
      timer = this.timers.setTimeout(() => resolve(false), timeoutMs);
    });
    try {
      const isReady = await Promise.race([ready.then(() => true as const), timedOut]);
      return { booted: request.booted, ready: isReady, waitedSeconds: (this.timers.now() - began) / 1000 };
    } finally {
      this.timers.clearTimeout(timer);
    }
  }

  /**
   * The control socket's `stop`: powers the VM off; open connections are closed; the front door stays.
   * The state is "stopping" from the call on (nothing awaited before), so a connection arriving
   * meanwhile waits for the stop and boots again rather than joining a VM about to go; a boot under
   * way is aborted (the lifecycle stops what it booted), not waited for.
   */
  stop(timeoutMs: number, why = "asked to stop"): Promise<StopResult> {
    if (this.state.kind === "stopping") return this.state.stop;
    const booting = this.state.kind === "booting" ? this.state : undefined;
    const pid = this.state.kind === "up" ? ` (pid ${this.state.vm.pid})` : booting ? " (booting)" : "";
    this.options.log(`stopping the builder${pid}: ${why}`);
    booting?.abort.abort();
    const stop = (booting ? booting.boot.then(noop, noop) : Promise.resolve())
      .then(() => this.options.control.stop(timeoutMs))
      .then(
        (result) => {
          this.options.log(`the builder stopped: ${result.outcome} in ${result.seconds.toFixed(1)} s`);
          this.enter({ kind: "off" });
          return result;
        },
        (error: unknown) => {
          this.options.log(`stopping the builder failed: ${messageOf(error)}`);
          this.enter({ kind: "off" });
          throw error;
        },
      );
    this.enter({ kind: "stopping", stop });
    // The connections open now end now, those waiting for the boot too; later ones wait for the stop.
    for (const connection of [...this.connections]) connection.close();
    return stop;
  }

  /** serve is ending: no more timers; the VM powered off. */
  shutdown(timeoutMs: number): Promise<StopResult> {
    this.closed = true;
    this.timers.clearTimeout(this.watch);
    return this.stop(timeoutMs, "the service is stopping");
  }

  status(): SupervisorStatus {
    const vm = this.state.kind === "up" ? this.state.vm : undefined;
    return {
      idleMinutes: this.options.idleMinutes,
      vm: {
        state: this.state.kind satisfies VmState,
        pid: vm?.pid ?? null,
        forwardPort: vm?.forwardPort ?? null,
        since: new Date(this.since).toISOString(),
      },
      connections: this.connections.size,
      waiting: this.waiting,
      guestBuilds: this.guestBuilds,
      idlePowerOffInSeconds:
        this.idle === undefined ? null : Math.max(0, (this.idle.firesAt - this.timers.now()) / 1000),
      totals: { ...this.totals },
      lastError: this.lastError,
    };
  }

  /** The VM, ready: booted if off, joined if booting, after a stop under way, booted again if found dead. */
  private async ready(request?: { booted: boolean }): Promise<RunningVm> {
    for (;;) {
      if (this.closed) throw new LinuxBuilderError("service.failed", "The service is stopping");
      const state = this.state;
      switch (state.kind) {
        case "off":
          if (request) request.booted = true;
          return this.boot();
        case "booting":
          return state.boot;
        case "stopping":
          await state.stop.catch(() => {});
          continue;
        case "up": {
          if ((await this.options.control.runningPid()) === state.vm.pid) return state.vm;
          this.died(state.vm, "found gone by a new connection");
          continue;
        }
      }
    }
  }

  private boot(): Promise<RunningVm> {
    this.totals.boots += 1;
    this.options.log("booting the builder");
    const began = this.timers.now();
    const abort = new AbortController();
    const boot = this.options.control.boot(abort.signal).then(
      (vm) => {
        // A stop came during the boot: the VM is the stop's now, not the waiting requests'.
        if (this.state !== booting) throw stoppedWhileBooting();
        const seconds = ((this.timers.now() - began) / 1000).toFixed(1);
        this.options.log(
          `the builder is ready (pid ${vm.pid}, forward port ${vm.forwardPort}) in ${seconds} s`,
        );
        this.lastError = null;
        this.guestBuilds = null;
        this.enter({ kind: "up", vm });
        this.armIdle();
        return vm;
      },
      (error: unknown) => {
        if (this.state !== booting) throw stoppedWhileBooting();
        this.lastError = messageOf(error);
        this.options.log(`booting the builder failed: ${this.lastError}`);
        this.enter({ kind: "off" });
        throw error;
      },
    );
    const booting: State = { kind: "booting", boot, abort };
    this.enter(booting);
    return boot;
  }

  private died(vm: RunningVm, how: string): void {
    if (this.state.kind !== "up" || this.state.vm !== vm) return;
    this.options.log(`the builder (pid ${vm.pid}) is gone: ${how}; the next connection boots it again`);
    this.enter({ kind: "off" });
  }

  private enter(state: State): void {
    // The idle power-off counts only while the VM is up: whatever ends that ends it.
    if (state.kind !== "up") this.cancelIdle();
    this.state = state;
    this.since = this.timers.now();
  }

  /** Counts down to the idle power-off, when the VM is up and nobody is connected. */
  private armIdle(delayMs = this.options.idleMinutes * 60_000): void {
    if (this.closed || this.idle !== undefined || this.options.idleMinutes === 0) return;
    if (this.state.kind !== "up" || this.connections.size > 0) return;
    // A VM started by hand without the service is not the service's to power off.
    if (this.state.vm.forwardPort === null) return;
    const handle = this.timers.setTimeout(() => {
      this.idle = undefined;
      void this.idleFired();
    }, delayMs);
    this.idle = { handle, firesAt: this.timers.now() + delayMs };
  }

  private cancelIdle(): void {
    if (this.idle === undefined) return;
    this.timers.clearTimeout(this.idle.handle);
    this.idle = undefined;
  }

  /** The idle time passed: powers off unless the guest still builds (a build Nix left running, say). */
  private async idleFired(): Promise<void> {
    const state = this.state;
    if (state.kind !== "up" || this.connections.size > 0) return;
    const opened = this.totals.connections;
    const builds = await this.options.control.guestBuilds(state.vm);
    this.guestBuilds = builds ?? null;
    // A connection arrived (even one already gone), or the VM changed, while the guest was asked:
    // the idle time counts afresh from that connection's end.
    if (this.state !== state || this.totals.connections !== opened || this.connections.size > 0) {
      this.armIdle();
      return;
    }
    if (builds !== undefined && builds > 0) {
      this.options.log(`idle, but ${builds} build processes run in the guest: looking again later`);
      this.armIdle(Math.min(BUILDS_RECHECK_MS, this.options.idleMinutes * 60_000));
      return;
    }
    const why =
      builds === undefined
        ? `idle for ${this.options.idleMinutes} min (the guest's builds could not be counted)`
        : `idle for ${this.options.idleMinutes} min`;
    await this.stop(this.options.idleStopTimeoutMs ?? 60_000, why).catch(() => {});
  }

  /** A cheap periodic look at the VM's process, so a crash is logged when it happens, not at the next connection. */
  private scheduleWatch(): void {
    if (this.closed) return;
    this.watch = this.timers.setTimeout(async () => {
      const state = this.state;
      if (state.kind === "up" && (await this.options.control.runningPid()) !== state.vm.pid) {
        this.died(state.vm, "its process ended");
      }
      this.scheduleWatch();
    }, this.options.watchMs ?? 3_000);
  }
}

function noop(): void {}

function stoppedWhileBooting(): LinuxBuilderError {
  return new LinuxBuilderError("service.failed", "The builder was stopped while it booted", {
    hint: "`linux-builder start` (or the next connection) boots it again.",
  });
}

function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
