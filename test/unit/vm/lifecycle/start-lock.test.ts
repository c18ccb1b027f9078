/**
 * The start lock that makes `start` idempotent and safe to run many times at once: the decisions as
 * pure functions, then the lock itself with real files and real processes as owners.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdir, mkdtemp, readFile, rm, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { setTimeout as sleep } from "node:timers/promises";
import {
  acquireStartLock,
  type LockSeen,
  lockedStep,
  lockWaitStep,
  readStartLock,
  readyWaitStep,
  releaseStartLock,
  removeStaleStartLock,
  takeStartLockNow,
  tryTakeStartLock,
} from "../../../../src/vm/lifecycle/start-lock.js";
import { type StateLayout, stateLayout } from "../../../../src/vm/state.js";

describe("what a start does next", () => {
  const free: LockSeen = { held: false };
  const live: LockSeen = { held: true, owner: 100, ownerAlive: true };
  const dead: LockSeen = { held: true, owner: 100, ownerAlive: false };
  const foreign: LockSeen = { held: true, owner: undefined, ownerAlive: false };

  test("before it holds the lock", () => {
    const step = (lock: LockSeen, vmRunning: boolean, waitReady = true, timedOut = false) =>
      lockWaitStep({ lock, vmRunning, waitReady, timedOut });
    assert.equal(step(free, false), "take-lock");
    assert.equal(step(free, true), "take-lock", "a running VM is looked at under the lock");
    assert.equal(step(free, false, true, true), "take-lock", "a free lock is taken even at the deadline");
    assert.equal(step(dead, false), "remove-stale-lock");
    assert.equal(step(dead, true, false), "remove-stale-lock");
    assert.equal(step(foreign, false), "remove-stale-lock");
    assert.equal(step(live, false), "wait", "another start is booting it");
    assert.equal(step(live, true), "wait", "another start waits for it to be ready");
    assert.equal(step(live, true, false), "running", "--no-wait: a QEMU that runs is enough");
    assert.equal(step(live, false, false), "wait", "--no-wait: QEMU is not there yet");
    assert.equal(step(live, false, true, true), "timed-out");
    assert.equal(step(live, true, false, true), "running");
  });

  test("once it holds the lock", () => {
    assert.equal(lockedStep({ vmRunning: false, waitReady: true }), "boot");
    assert.equal(lockedStep({ vmRunning: false, waitReady: false }), "boot");
    assert.equal(lockedStep({ vmRunning: true, waitReady: true }), "wait-ready");
    assert.equal(lockedStep({ vmRunning: true, waitReady: false }), "running");
  });

  test("while it waits for a running builder to be ready", () => {
    const step = (vmRunning: boolean, ready: boolean, bootFailed = false, timedOut = false) =>
      readyWaitStep({ vmRunning, ready, bootFailed, timedOut });
    assert.equal(step(true, true), "ready");
    assert.equal(step(true, true, false, true), "ready", "ready at the deadline is ready");
    assert.equal(step(true, false), "poll");
    assert.equal(step(true, false, false, true), "timed-out");
    assert.equal(step(true, false, true), "failed", "a failed boot is never ready: no wait for the deadline");
    assert.equal(step(false, false), "died");
    assert.equal(step(false, false, false, true), "died");
  });
});

describe("the start lock", () => {
  let root: string;
  let count = 0;
  const children: ChildProcess[] = [];
  const fresh = async (): Promise<StateLayout> => {
    const layout = stateLayout(join(root, `state-${count++}`));
    await mkdir(layout.dir);
    return layout;
  };
  /** A live process that is not us, to own a lock; it ends after `ms`. */
  const owner = (ms: number): ChildProcess & { pid: number } => {
    const child = spawn(process.execPath, ["-e", `setTimeout(() => {}, ${ms})`], { stdio: "ignore" });
    children.push(child);
    return child as ChildProcess & { pid: number };
  };
  /** The pid of a process that has ended. */
  const deadPid = () => spawnSync("true").pid as number;
  const lockedBy = (layout: StateLayout, pid: number | string) => writeFile(layout.startLock, String(pid));

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "lb-start-lock-"));
  });
  after(async () => {
    for (const child of children) child.kill("SIGKILL");
    await rm(root, { recursive: true, force: true });
  });

  test("taken once, read as ours, given back", async () => {
    const layout = await fresh();
    assert.deepEqual(await readStartLock(layout), { held: false });
    assert.equal(await tryTakeStartLock(layout), true);
    assert.equal(await tryTakeStartLock(layout), false, "held: not taken twice");
    assert.equal(await readFile(layout.startLock, "utf8"), String(process.pid));
    assert.deepEqual(await readStartLock(layout), { held: true, owner: process.pid, ownerAlive: true });
    await releaseStartLock(layout);
    assert.deepEqual(await readStartLock(layout), { held: false });
    assert.equal(await tryTakeStartLock(layout), true);
    await releaseStartLock(layout);
  });

  test("a lock that is not ours is not given back by us", async () => {
    const layout = await fresh();
    const other = owner(30_000);
    await lockedBy(layout, other.pid);
    await releaseStartLock(layout);
    assert.equal(await readFile(layout.startLock, "utf8"), String(other.pid));
    other.kill();
  });

  test("a dead owner's, a foreign and a pre-reboot lock are stale", async () => {
    const layout = await fresh();
    const dead = deadPid();
    await lockedBy(layout, dead);
    assert.deepEqual(await readStartLock(layout), { held: true, owner: dead, ownerAlive: false });
    await lockedBy(layout, "not a pid\n");
    assert.deepEqual(await readStartLock(layout), { held: true, owner: undefined, ownerAlive: false });
    await lockedBy(layout, "");
    assert.deepEqual(await readStartLock(layout), { held: true, owner: undefined, ownerAlive: false });
    // Our own pid, alive, but the file is older than the host's boot: its pid was recycled.
    await lockedBy(layout, process.pid);
    await utimes(layout.startLock, new Date(0), new Date(0));
    assert.deepEqual(await readStartLock(layout), { held: true, owner: process.pid, ownerAlive: false });
  });

  test("a stale lock is removed and taken at once", async () => {
    for (const content of [String(deadPid()), "garbage"]) {
      const layout = await fresh();
      await lockedBy(layout, content);
      const started = Date.now();
      let told = false;
      const got = await acquireStartLock(layout, {
        deadline: Date.now() + 5_000,
        waitReady: true,
        vmPid: async () => undefined,
        onWait: () => {
          told = true;
        },
      });
      assert.deepEqual(got, { kind: "locked" });
      assert.equal(await readFile(layout.startLock, "utf8"), String(process.pid));
      assert.equal(told, false, "no one to wait for");
      assert.ok(Date.now() - started < 2_000);
      await releaseStartLock(layout);
    }
  });

  test("a live owner is waited for until it gives the lock up", async () => {
    const layout = await fresh();
    const other = owner(30_000);
    await lockedBy(layout, other.pid);
    const toldAbout: number[] = [];
    const started = Date.now();
    setTimeout(() => void rm(layout.startLock), 600);
    const got = await acquireStartLock(layout, {
      deadline: Date.now() + 10_000,
      waitReady: true,
      vmPid: async () => undefined,
      onWait: (pid) => toldAbout.push(pid),
      pollMs: 50,
    });
    assert.deepEqual(got, { kind: "locked" });
    assert.ok(Date.now() - started >= 550, "it waited");
    assert.deepEqual(toldAbout, [other.pid], "said once, with the owner's pid");
    await releaseStartLock(layout);
    other.kill();
  });

  test("a live owner that dies holding the lock is waited for, then its lock removed", async () => {
    const layout = await fresh();
    const other = owner(700);
    await lockedBy(layout, other.pid);
    const started = Date.now();
    const got = await acquireStartLock(layout, {
      deadline: Date.now() + 10_000,
      waitReady: true,
      vmPid: async () => undefined,
      pollMs: 50,
    });
    assert.deepEqual(got, { kind: "locked" });
    assert.ok(Date.now() - started >= 500, "it waited for the owner to end");
    assert.equal(await readFile(layout.startLock, "utf8"), String(process.pid));
    await releaseStartLock(layout);
  });

  test("the wait ends at the deadline, naming the owner", async () => {
    const layout = await fresh();
    const other = owner(30_000);
    await lockedBy(layout, other.pid);
    await assert.rejects(
      acquireStartLock(layout, {
        deadline: Date.now() + 300,
        waitReady: true,
        vmPid: async () => undefined,
        pollMs: 50,
      }),
      (error: Error & { code?: string }) =>
        error.code === "vm.still-starting" && error.message.includes(`pid ${other.pid}`),
    );
    assert.equal(await readFile(layout.startLock, "utf8"), String(other.pid), "the owner keeps its lock");
    other.kill();
  });

  test("--no-wait: a QEMU that runs ends the wait, the lock untouched", async () => {
    const layout = await fresh();
    const other = owner(30_000);
    await lockedBy(layout, other.pid);
    let qemu: number | undefined;
    setTimeout(() => {
      qemu = 4321;
    }, 300);
    const got = await acquireStartLock(layout, {
      deadline: Date.now() + 10_000,
      waitReady: false,
      vmPid: async () => qemu,
      pollMs: 50,
    });
    assert.deepEqual(got, { kind: "running", pid: 4321 });
    assert.equal(await readFile(layout.startLock, "utf8"), String(other.pid));
    other.kill();
  });

  test("removing a stale lock puts back one a live start took meanwhile", async () => {
    const layout = await fresh();
    const other = owner(30_000);
    // We saw a dead owner's lock; by the time we remove it, a live start has taken it.
    await lockedBy(layout, other.pid);
    await removeStaleStartLock(layout);
    assert.equal(await readFile(layout.startLock, "utf8"), String(other.pid));
    // Gone already: nothing to do.
    await rm(layout.startLock);
    await removeStaleStartLock(layout);
    assert.deepEqual(await readStartLock(layout), { held: false });
    other.kill();
  });

  test("many starters at once: one holds it at a time, and every one gets it", async () => {
    const layout = await fresh();
    let holding = 0;
    let most = 0;
    const order: number[] = [];
    await Promise.all(
      Array.from({ length: 10 }, async (_, index) => {
        const got = await acquireStartLock(layout, {
          deadline: Date.now() + 20_000,
          waitReady: true,
          vmPid: async () => undefined,
          pollMs: 10,
        });
        assert.deepEqual(got, { kind: "locked" });
        holding++;
        most = Math.max(most, holding);
        order.push(index);
        await sleep(20);
        holding--;
        await releaseStartLock(layout);
      }),
    );
    assert.equal(most, 1);
    assert.equal(order.length, 10);
    assert.deepEqual(await readStartLock(layout), { held: false });
  });

  test("run does not wait: a live owner is an error, a stale lock is taken", async () => {
    const layout = await fresh();
    const other = owner(30_000);
    await lockedBy(layout, other.pid);
    await assert.rejects(
      takeStartLockNow(layout),
      (error: Error & { code?: string }) =>
        error.code === "vm.starting" && error.message.includes(`pid ${other.pid}`),
    );
    other.kill();
    await lockedBy(layout, deadPid());
    await takeStartLockNow(layout);
    assert.equal(await readFile(layout.startLock, "utf8"), String(process.pid));
    await releaseStartLock(layout);
  });
});
