/**
 * The pid lock with real files in a temporary folder and real processes as holders: live ones
 * (children that wait), dead ones (children that have exited), and two children racing to take over
 * dead holders' locks.
 */
import assert from "node:assert/strict";
import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { once } from "node:events";
import fsPromises, {
  lstat,
  mkdir,
  mkdtemp,
  readdir,
  readFile,
  rm,
  stat,
  symlink,
  utimes,
  writeFile,
} from "node:fs/promises";
import { syncBuiltinESMExports } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createInterface } from "node:readline";
import type { Readable } from "node:stream";
import { after, before, describe, test } from "node:test";
import { fileURLToPath } from "node:url";
import { userError } from "../../../src/cli/report-error.js";
import {
  type PidLock,
  type PidLockPlace,
  parsePid,
  readPidLock,
  releasePidLock,
  removeStalePidLock,
  takeOverPidLock,
  takePidLock,
} from "../../../src/lock/pid-lock.js";

const MODULE = fileURLToPath(new URL("../../../src/lock/pid-lock.ts", import.meta.url));

describe("a pid lock", () => {
  let root: string;
  let count = 0;
  const children: ChildProcess[] = [];
  /** A folder of its own for each test, so a left-over file shows. */
  const folder = async () => {
    const dir = join(root, `case-${count++}`);
    await mkdir(dir);
    return dir;
  };
  /** A live process that is not us, to hold a lock. */
  const liveHolder = (): number => {
    const child = spawn(process.execPath, ["-e", "setTimeout(() => {}, 60_000)"], { stdio: "ignore" });
    children.push(child);
    return child.pid as number;
  };
  /** A lock's place, its age not counted (as serve.lock's and the registry's). */
  const place = (path: string): PidLockPlace => ({ path, staleBeforeBoot: false });
  /** The pid of a process that has ended. */
  const deadPid = () => spawnSync("true").pid as number;

  before(async () => {
    root = await mkdtemp(join(tmpdir(), "lb-pid-lock-"));
  });
  after(async () => {
    for (const child of children) child.kill("SIGKILL");
    await rm(root, { recursive: true, force: true });
  });

  test("a pid: a positive whole number alone on its line", () => {
    assert.equal(parsePid("1234"), 1234);
    assert.equal(parsePid("1234\n"), 1234);
    for (const text of ["", "\n", "0", "-5", "12a", "1e3", "0x10", "1 2", "99999999999999999999"]) {
      assert.equal(parsePid(text), undefined, JSON.stringify(text));
    }
  });

  test("taken once, written as its caller writes it (mode, newline), given back; nothing left beside it", async () => {
    for (const [mode, newline] of [
      [0o600, true],
      [0o644, false],
    ] as const) {
      const dir = await folder();
      const lock: PidLock = { path: join(dir, "it.lock"), mode, newline, staleBeforeBoot: false };
      assert.deepEqual(await readPidLock(lock), { held: false });
      assert.equal(await takePidLock(lock), true);
      assert.equal(await takePidLock(lock), false, "held: not taken twice");
      assert.equal(await readFile(lock.path, "utf8"), newline ? `${process.pid}\n` : String(process.pid));
      assert.equal((await stat(lock.path)).mode & 0o777, mode);
      assert.deepEqual(await readdir(dir), ["it.lock"], "no temporary file left");
      assert.deepEqual(await readPidLock(lock), { held: true, owner: process.pid, ownerAlive: true });
      await releasePidLock(lock.path);
      assert.deepEqual(await readdir(dir), []);
      assert.equal(await takePidLock(lock), true, "free again");
      await releasePidLock(lock.path);
    }
  });

  test("taken: temporary files and stale locks moved aside by dead takers of this lock are removed; a live one's and others' stay", async () => {
    const dir = await folder();
    const lock: PidLock = { path: join(dir, "it.lock"), mode: 0o600, newline: false, staleBeforeBoot: false };
    const dead = deadPid();
    const left = [
      `it.lock.${liveHolder()}.0123abcd.tmp`, // A live taker's, mid-try.
      `other.lock.${dead}.0123abcd.tmp`, // Another lock's.
      `it.lock.${dead}.tmp`, // Not the pattern.
      `it.lock.${dead}.0123abcd.tmp.keep`,
      `it.lock.stale.${liveHolder()}.0123abcd`, // A live taker's, mid-removal.
      `other.lock.stale.${dead}.0123abcd`,
      `it.lock.stale.${dead}.0123abcd.tmp`,
    ];
    const deadTakers = [
      `it.lock.${dead}.0123abcd.tmp`,
      `it.lock.${dead}.deadbeef.tmp`,
      `it.lock.stale.${dead}.0123abcd`,
    ];
    for (const name of [...left, ...deadTakers]) await writeFile(join(dir, name), String(dead));
    assert.equal(await takePidLock(lock), true);
    assert.deepEqual((await readdir(dir)).sort(), [...left, "it.lock"].sort());
    await releasePidLock(lock.path);
  });

  test("read back: a live holder, a dead one, no pid, an empty file, a lock from before the host's boot", async () => {
    const path = join(await folder(), "it.lock");
    const live = liveHolder();
    await writeFile(path, `${live}\n`);
    assert.deepEqual(await readPidLock(place(path)), { held: true, owner: live, ownerAlive: true });
    const dead = deadPid();
    await writeFile(path, String(dead));
    assert.deepEqual(await readPidLock(place(path)), { held: true, owner: dead, ownerAlive: false });
    await writeFile(path, "not a pid\n");
    assert.deepEqual(await readPidLock(place(path)), { held: true, owner: undefined, ownerAlive: false });
    // Empty is looked at twice (a taker may be writing it), then nobody's.
    await writeFile(path, "");
    const started = Date.now();
    assert.deepEqual(await readPidLock(place(path)), { held: true, owner: undefined, ownerAlive: false });
    assert.ok(Date.now() - started >= 40, "it looked again");
    // Our own pid, alive, but the file is older than the host's boot: for a lock that counts its
    // age (the start lock) its pid was recycled; for one that does not (held for days, a clock
    // stepped forward makes it look old) its holder lives.
    await writeFile(path, String(process.pid));
    await utimes(path, new Date(0), new Date(0));
    assert.deepEqual(await readPidLock({ path, staleBeforeBoot: true }), {
      held: true,
      owner: process.pid,
      ownerAlive: false,
    });
    assert.deepEqual(await readPidLock({ path, staleBeforeBoot: false }), {
      held: true,
      owner: process.pid,
      ownerAlive: true,
    });
  });

  test("an empty lock that gets its pid while looked at is its writer's", async () => {
    const path = join(await folder(), "it.lock");
    const live = liveHolder();
    await writeFile(path, "");
    setTimeout(() => void writeFile(path, String(live)), 10);
    assert.deepEqual(await readPidLock(place(path)), { held: true, owner: live, ownerAlive: true });
  });

  test("a lock that cannot be read is an error naming it, for the user (not a free lock, not a bug)", async () => {
    const path = join(await folder(), "it.lock");
    await mkdir(path);
    const failure = await readPidLock(place(path)).then(
      () => assert.fail("a folder read as a lock"),
      (error: unknown) => error,
    );
    const said = userError(failure);
    assert.equal(said?.code, "fs.EISDIR");
    assert.ok(said?.message.includes(path), said?.message);
  });

  test("a symbolic link (dangling or not) or a FIFO is nobody's lock: taken over, a link's target left alone", {
    timeout: 60_000, // Before the fix a dangling link spun forever.
  }, async () => {
    const dir = await folder();
    const lock: PidLock = { path: join(dir, "it.lock"), mode: 0o600, newline: false, staleBeforeBoot: false };
    const target = join(dir, "target");
    await symlink(target, lock.path);
    assert.deepEqual(await readPidLock(lock), { held: true, owner: undefined, ownerAlive: false });
    assert.deepEqual(await takeOverPidLock(lock), { taken: true }, "over a dangling link");
    assert.equal((await lstat(lock.path)).isFile(), true, "our own file, not the link");
    await releasePidLock(lock.path);
    await writeFile(target, String(liveHolder()));
    await symlink(target, lock.path);
    assert.deepEqual(await takeOverPidLock(lock), { taken: true }, "over a link to a pid");
    await releasePidLock(lock.path);
    assert.deepEqual(await readdir(dir), ["target"], "the link's target is left alone");
    await rm(target);
    assert.equal(spawnSync("mkfifo", [lock.path]).status, 0);
    assert.deepEqual(await takeOverPidLock(lock), { taken: true }, "over a FIFO (not read: it would block)");
    await releasePidLock(lock.path);
    assert.deepEqual(await readdir(dir), []);
  });

  test("a lock that link(2) finds but a read never does is an error naming it, not a spin forever", async (t) => {
    const lock: PidLock = {
      path: join(await folder(), "it.lock"),
      mode: 0o600,
      newline: false,
      staleBeforeBoot: false,
    };
    await writeFile(lock.path, String(liveHolder()));
    // A file system that says "exists" to link and "absent" to every look.
    const absent = Object.assign(new Error("ENOENT"), { code: "ENOENT" });
    t.mock.method(fsPromises, "lstat", async () => Promise.reject(absent));
    syncBuiltinESMExports();
    try {
      await assert.rejects(takeOverPidLock(lock), (error: Error) => {
        assert.match(error.message, /times it was there to take, and not there to read/);
        assert.ok(error.message.includes(lock.path), error.message);
        return true;
      });
    } finally {
      t.mock.restoreAll();
      syncBuiltinESMExports();
    }
  });

  test("released only by its holder", async () => {
    const path = join(await folder(), "it.lock");
    await releasePidLock(path); // Not there: nothing to do.
    const live = liveHolder();
    await writeFile(path, String(live));
    await releasePidLock(path);
    assert.equal(await readFile(path, "utf8"), String(live));
  });

  test("a stale lock is removed; a live one (taken after it was found stale) is put back", async () => {
    const dir = await folder();
    const path = join(dir, "it.lock");
    for (const stale of [String(deadPid()), "garbage"]) {
      await writeFile(path, stale);
      await removeStalePidLock(place(path));
      assert.deepEqual(await readdir(dir), [], `${stale}: removed, nothing left beside it`);
    }
    await removeStalePidLock(place(path)); // Gone already: nothing to do.
    const live = liveHolder();
    await writeFile(path, `${live}\n`);
    await removeStalePidLock(place(path));
    assert.equal(await readFile(path, "utf8"), `${live}\n`, "put back as it was");
    assert.deepEqual(await readdir(dir), ["it.lock"]);
  });

  test("taken over: a free lock, a dead holder's, one with no pid; a live holder's is not, and is named", async () => {
    const dir = await folder();
    const lock: PidLock = { path: join(dir, "it.lock"), mode: 0o600, newline: true, staleBeforeBoot: false };
    for (const before of [undefined, String(deadPid()), "garbage"]) {
      if (before !== undefined) await writeFile(lock.path, before);
      assert.deepEqual(await takeOverPidLock(lock), { taken: true }, `over ${before}`);
      assert.equal(await readFile(lock.path, "utf8"), `${process.pid}\n`);
      await releasePidLock(lock.path);
    }
    const live = liveHolder();
    await writeFile(lock.path, String(live));
    assert.deepEqual(await takeOverPidLock(lock), { taken: false, holder: live });
    assert.equal(await readFile(lock.path, "utf8"), String(live), "left as it was");
    assert.deepEqual(await readdir(dir), ["it.lock"]);
  });

  test("two processes taking over the same dead holders' locks at once: one of them wins each", async () => {
    const dir = await folder();
    const rounds = 600;
    const dead = String(deadPid());
    for (let round = 0; round < rounds; round++) await writeFile(join(dir, `${round}.lock`), dead);
    // Each child takes every lock in turn (a dead holder's over; a live one's, its rival's, not),
    // keeps what it won and stays alive until told, so a won lock stays a live holder's. Both are
    // loaded (tsx takes a moment) before either starts.
    const racer = `
      const { takeOverPidLock } = await import(process.argv[1]);
      const [dir, rounds] = process.argv.slice(2);
      process.stdout.write("ready\\n");
      process.stdin.once("data", async () => {
        const won = [];
        for (let round = 0; round < Number(rounds); round++) {
          const lock = { path: dir + "/" + round + ".lock", mode: 0o600, newline: false, staleBeforeBoot: false };
          if ((await takeOverPidLock(lock)).taken) won.push(round);
        }
        process.stdout.write(JSON.stringify(won) + "\\n");
        process.stdin.on("end", () => process.exit(0));
      });
    `;
    const racers = [0, 1].map(() => {
      const child = spawn(
        process.execPath,
        ["--import", "tsx", "--input-type=module", "-e", racer, MODULE, dir, String(rounds)],
        { stdio: ["pipe", "pipe", "inherit"] },
      );
      children.push(child);
      return { child, lines: createInterface({ input: child.stdout as Readable })[Symbol.asyncIterator]() };
    });
    for (const { lines } of racers) assert.equal((await lines.next()).value, "ready");
    for (const { child } of racers) child.stdin?.write("go\n");
    const results: number[][] = [];
    for (const { lines } of racers) results.push(JSON.parse((await lines.next()).value as string));
    for (const { child } of racers) {
      child.stdin?.end();
      if (child.exitCode === null) await once(child, "exit");
    }
    const [first, second] = results as [number[], number[]];
    const both = first.filter((round) => second.includes(round));
    assert.deepEqual(both, [], "no lock is won by both");
    assert.equal(first.length + second.length, rounds, "every lock is won by one");
    // Not asserted: that both won some. On a loaded machine one racer may run through all of them first.
  });
});
