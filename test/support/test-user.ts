/**
 * Running linux-builder the way its users do: as an unprivileged account whose root half goes
 * through the real `sudo`. The tests themselves usually run as root (CI does); then every command
 * of the user's goes through `sudo -u USER`, with a clean login-like environment, and the user's
 * own `sudo --reset-timestamp … apply-host-plan` is a second, real sudo back to root.
 *
 *   - `testUserSkip()`: why these tests cannot run here (no user, no password-less sudo), or false.
 *   - `asTestUser(argv, { env, input, timeout, cwd })`: runs a command as the user; resolves with
 *     its stdout and stderr, rejects (with `code`, `stdout`, `stderr`) when it fails, as
 *     `promisify(execFile)` does.
 *   - `testUserCommand(env, cwd)`: the argv prefix, environment and folder behind asTestUser, for
 *     a caller that spawns by itself (the pty of test/support/pty.ts: its `runner` option).
 *   - `prepareUserCli()`: a copy of this checkout's CLI the user can read (the clone may sit in a
 *     0700 /root); `prepareUserHome(image)`: a LINUX_BUILDER_HOME owned by the user holding the
 *     image the tests composed as root, so start does not compose again.
 *   - `asRoot(argv)`: root's side (directly, or through `sudo -n` when the tests run unprivileged).
 *   - `snapshotTree(paths)`, `treeDifferences(a, b)`, `restoreTree(snapshot, only?)`: every file
 *     under /etc/nix and /etc/ssh (bytes, mode, owner; or that a folder is absent), to prove that
 *     install then uninstall leaves the host as it was, and to put it back when a test failed
 *     half-way. For the real /etc: `HOST_DIRS`, `differencesForPort` (other builders' own files on
 *     a shared machine left out), `putHostBack(snapshot, port)` (for `after`: puts back only what
 *     install for that port may write, `installScope(port)`).
 *   - `sudoLinePattern(script)`: the `+ sudo --reset-timestamp NODE SCRIPT apply-host-plan` line.
 *
 * The user is `linux-builder-test` unless LINUX_BUILDER_TEST_USER names another. `.ci/run` creates it
 * (a home, password-less sudo through /etc/sudoers.d). When the tests run unprivileged, the test
 * user is whoever runs them, and their sudo must work without a password (`sudo -n true`).
 */
import { spawn } from "node:child_process";
import { constants } from "node:fs";
import { chmod, chown, copyFile, mkdir, mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir, userInfo } from "node:os";
import { basename, dirname, join, resolve } from "node:path";
import { backupPath, installedPaths } from "../../src/host/installed-paths.js";
import type { StoredImage } from "../../src/image/store.js";

const isRoot = process.getuid?.() === 0;

/** The account the tests run linux-builder as. */
export const TEST_USER = isRoot
  ? process.env.LINUX_BUILDER_TEST_USER || "linux-builder-test"
  : userInfo().username;

export interface RunOptions {
  /** Added to the user's environment (as root: a clean one, HOME, USER, LOGNAME, PATH, LANG). */
  readonly env?: Readonly<Record<string, string>>;
  /** Written to the command's stdin (then closed); none: stdin is /dev/null. */
  readonly input?: string | Buffer;
  /** Milliseconds; then the command's process group gets SIGKILL and the promise rejects. Default 15 min. */
  readonly timeout?: number;
  /** The command's working folder: default the system's temporary folder (the user can enter it). */
  readonly cwd?: string;
}

export interface RunResult {
  readonly stdout: string;
  readonly stderr: string;
}

/** The error asTestUser and asRoot reject with: like execFile's. */
export interface RunError extends Error {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
}

export interface UserAccount {
  readonly name: string;
  readonly uid: number;
  readonly gid: number;
  readonly home: string;
}

function passwdEntry(name: string, passwd: string): UserAccount | undefined {
  for (const line of passwd.split("\n")) {
    const [user, , uid, gid, , home] = line.split(":");
    if (user === name && uid !== undefined && gid !== undefined && home !== undefined) {
      return { name, uid: Number(uid), gid: Number(gid), home };
    }
  }
  return undefined;
}

let account: UserAccount | undefined;

/** The test user's uid, gid and home (from `getent passwd`, so NSS users count too). */
export async function testUserAccount(): Promise<UserAccount> {
  if (account !== undefined) return account;
  if (!isRoot) {
    const me = userInfo();
    account = { name: me.username, uid: me.uid, gid: me.gid, home: me.homedir };
    return account;
  }
  const { stdout } = await execute(["getent", "passwd", TEST_USER], {}).catch(() => ({ stdout: "" }));
  const found = passwdEntry(TEST_USER, stdout);
  if (found === undefined) throw new Error(`no user ${TEST_USER} (.ci/run creates it)`);
  account = found;
  return found;
}

/** A clean environment as a login gives it; `node` first on the PATH (the one running the tests). */
function userEnvironment(user: string, home: string, extra: Readonly<Record<string, string>>) {
  return {
    HOME: home,
    USER: user,
    LOGNAME: user,
    PATH: `${dirname(process.execPath)}:/usr/local/bin:/usr/bin:/bin:/usr/local/sbin:/usr/sbin:/sbin`,
    LANG: "C.UTF-8",
    ...extra,
  };
}

/**
 * How to run a command as the test user: spawn `[...prefix, ...argv]` with `env` in `cwd`. As root
 * the prefix is `sudo -u USER -- env -i --chdir=CWD VAR=… …`: what the command sees is exactly the
 * listed variables, and it starts in `cwd` (default the temporary folder), never in the caller's
 * folder, which the user may not be able to enter (a CI clone under a 0700 /root: node's child
 * processes fail there with EACCES). Unprivileged, the prefix is empty and `env` is ours plus
 * `extra`. Call testUserSkip() or testUserAccount() first (they look the user's home up).
 */
export function testUserCommand(
  extra: Readonly<Record<string, string>> = {},
  cwd: string = tmpdir(),
): { prefix: string[]; env: NodeJS.ProcessEnv; cwd: string } {
  if (!isRoot) return { prefix: [], env: { ...process.env, ...extra }, cwd };
  const home = account?.home ?? `/home/${TEST_USER}`;
  const variables = Object.entries(userEnvironment(TEST_USER, home, extra)).map(([k, v]) => `${k}=${v}`);
  return {
    prefix: [
      "sudo",
      "--non-interactive",
      "--user",
      TEST_USER,
      "--",
      "/usr/bin/env",
      "-i",
      `--chdir=${cwd}`,
      ...variables,
    ],
    env: process.env,
    cwd,
  };
}

/** Spawns argv in its own session (no controlling terminal: sudo uses no pty), collecting its output. */
function execute(argv: readonly string[], options: RunOptions & { spawnEnv?: NodeJS.ProcessEnv }) {
  return new Promise<RunResult>((resolvePromise, reject) => {
    const [command, ...args] = argv;
    const child = spawn(command ?? "false", args, {
      cwd: options.cwd ?? tmpdir(),
      env: options.spawnEnv ?? process.env,
      stdio: [options.input === undefined ? "ignore" : "pipe", "pipe", "pipe"],
      detached: true,
    });
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (chunk: Buffer) => {
      stdout += chunk.toString("utf8");
    });
    child.stderr?.on("data", (chunk: Buffer) => {
      stderr += chunk.toString("utf8");
    });
    if (options.input !== undefined) {
      child.stdin?.on("error", () => undefined);
      child.stdin?.end(options.input);
    }
    let timedOut = false;
    const timer = setTimeout(
      () => {
        timedOut = true;
        try {
          process.kill(-(child.pid ?? 0), "SIGKILL");
        } catch {
          child.kill("SIGKILL");
        }
      },
      options.timeout ?? 15 * 60_000,
    );
    child.once("error", (error) => {
      clearTimeout(timer);
      reject(error);
    });
    child.once("close", (code, signal) => {
      clearTimeout(timer);
      if (code === 0) return resolvePromise({ stdout, stderr });
      const why = timedOut
        ? `timed out after ${options.timeout ?? 15 * 60_000} ms`
        : `exited with ${code ?? signal}`;
      const error = new Error(
        `${argv.join(" ")}: ${why}\n--- stderr ---\n${stderr.slice(-4000)}\n--- stdout ---\n${stdout.slice(-2000)}`,
      ) as Error & { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string };
      error.code = code;
      error.signal = signal;
      error.stdout = stdout;
      error.stderr = stderr;
      reject(error as RunError);
    });
  });
}

/**
 * Runs `argv` as the test user (see testUserCommand); resolves with its output when it exits 0,
 * rejects with a RunError (code, stdout, stderr) otherwise.
 */
export async function asTestUser(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  await testUserAccount();
  const { prefix, env, cwd } = testUserCommand(options.env, options.cwd);
  return execute([...prefix, ...argv], { ...options, cwd, spawnEnv: env });
}

/** Runs `argv` as root: directly, or through `sudo -n` when the tests run unprivileged. */
export function asRoot(argv: readonly string[], options: RunOptions = {}): Promise<RunResult> {
  const env = { ...process.env, ...options.env };
  return execute(isRoot ? argv : ["sudo", "--non-interactive", "--", ...argv], {
    ...options,
    spawnEnv: env,
  });
}

let skipReason: string | false | undefined;

/**
 * What a test of the user's flow leaves behind, undone in `after`: the builder stopped, install
 * undone (as the user, through sudo), /etc put back where a failed step left it changed, and the
 * user's home and copy of the CLI removed. Each part runs even when an earlier one fails.
 */
export async function undoUserTest(
  lb: (command: string, ...args: string[]) => Promise<RunResult>,
  left: {
    original: TreeSnapshot | undefined;
    port: number;
    home: UserHome | undefined;
    cli: UserCli | undefined;
  },
): Promise<void> {
  await lb("stop").catch(() => undefined);
  await lb("uninstall").catch((error: Error) =>
    process.stderr.write(`# after: uninstall failed: ${error.message}\n`),
  );
  if (left.original !== undefined) await putHostBack(left.original, left.port);
  await left.home?.remove();
  await left.cli?.remove();
}

/**
 * `linux-builder COMMAND FLAGS… ARGS…` as the test user, from its copy of the CLI and with its home:
 * `parts` and `flags` are read at each call (the tests fill them in before()), `flags` gets the command.
 */
export function userLinuxBuilder(
  parts: () => { cli: UserCli | undefined; home: UserHome | undefined },
  flags: (command: string) => readonly string[],
  options: { env?: () => Readonly<Record<string, string>>; timeout?: number } = {},
): (command: string, ...args: string[]) => Promise<RunResult> {
  return (command, ...args) => {
    const { cli, home } = parts();
    if (cli === undefined || home === undefined) throw new Error("before() did not finish");
    return asTestUser([process.execPath, cli.script, command, ...flags(command), ...args], {
      env: { LINUX_BUILDER_HOME: home.home, ...options.env?.() },
      timeout: options.timeout ?? 900_000,
    });
  };
}

/**
 * Why the as-the-user tests cannot run here, or false when they can. Under CI (CI=true) a missing
 * user or sudo is an error instead: CI must never pass by skipping them.
 */
export async function testUserSkip(): Promise<string | false> {
  if (skipReason !== undefined) return skipReason;
  const reason = await (async () => {
    if (process.platform !== "linux") return "the host tests need Linux";
    if (isRoot) {
      try {
        await testUserAccount();
      } catch (error) {
        return `${(error as Error).message}`;
      }
      // The user's sudo: real, and without a password or a terminal.
      const works = await asTestUser(["sudo", "--non-interactive", "true"], { timeout: 30_000 }).then(
        () => true,
        (error: RunError) => error.stderr.trim() || error.message,
      );
      return works === true ? false : `${TEST_USER} has no password-less sudo (${works}); .ci/run sets it up`;
    }
    const works = await execute(["sudo", "--non-interactive", "true"], { timeout: 30_000 }).then(
      () => true,
      (error: RunError) => error.stderr.trim() || error.message,
    );
    return works === true
      ? false
      : `not root, and sudo needs a password here (${works}): run the tests as root, or with password-less sudo`;
  })();
  if (reason !== false && process.env.CI === "true") {
    throw new Error(`CI must run the host tests as an unprivileged user through real sudo: ${reason}`);
  }
  skipReason = reason;
  return reason;
}

/** The parts of the checkout the CLI runs from (bin/linux-builder.js picks dist/ or, if stale, src/ through tsx). */
const CLI_PARTS = ["bin", "dist", "guest", "keys", "package.json", "src", "tsconfig.json"] as const;

export interface UserCli {
  /** The copy's folder (readable by everyone, owned by root like an installed package). */
  readonly root: string;
  /** Its bin/linux-builder.js. */
  readonly script: string;
  remove(): Promise<void>;
}

/**
 * A copy of this checkout's CLI in a folder every user can read: a CI clone may live where the test
 * user cannot go (under a 0700 /root). Modes and times are kept (bin/ compares dist/'s build time
 * with src/'s, so the copy runs what the checkout runs); node_modules is hard-linked when it can be
 * (164 MiB), else copied. Owned by root, as a package installed for all users is.
 */
export async function prepareUserCli(checkout = process.cwd()): Promise<UserCli> {
  const root = await mkdtemp(join(tmpdir(), "lb-user-cli-"));
  await chmod(root, 0o755);
  const present = await readdir(checkout);
  const parts = CLI_PARTS.filter((name) => present.includes(name)).map((name) => resolve(checkout, name));
  await execute(["cp", "-a", "--", ...parts, `${root}/`], {});
  await execute(["cp", "-al", "--", resolve(checkout, "node_modules"), `${root}/`], {}).catch(async () => {
    await rm(join(root, "node_modules"), { recursive: true, force: true });
    await execute(["cp", "-a", "--", resolve(checkout, "node_modules"), `${root}/`], {});
  });
  return {
    root,
    script: join(root, "bin", "linux-builder.js"),
    remove: () => rm(root, { recursive: true, force: true }),
  };
}

export interface UserHome {
  /** The user's folder for this test (0700, the user's). */
  readonly root: string;
  /** LINUX_BUILDER_HOME: cache/, images/ (the tests' image, current for its arch), state/. */
  readonly home: string;
  /** A state folder of the user's for one builder (`--state-dir`): not yet created. */
  stateDir(name: string): string;
  remove(): Promise<void>;
}

async function chownTree(path: string, uid: number, gid: number): Promise<void> {
  await chown(path, uid, gid);
  for (const entry of await readdir(path, { withFileTypes: true })) {
    const child = join(path, entry.name);
    if (entry.isDirectory()) await chownTree(child, uid, gid);
    else await chown(child, uid, gid);
  }
}

/**
 * A LINUX_BUILDER_HOME of the test user's with `image` (composed as root by testImage) as its
 * current image, copied (a reflink where the file system can), so `start` boots it without
 * composing. Needs root (or sudo) to hand the files over.
 */
export async function prepareUserHome(image: StoredImage): Promise<UserHome> {
  const user = await testUserAccount();
  const root = await mkdtemp(join(tmpdir(), "lb-user-"));
  const home = join(root, "home");
  const images = join(home, "images");
  const target = join(images, basename(image.directory));
  await mkdir(target, { recursive: true });
  for (const name of await readdir(image.directory)) {
    await copyFile(join(image.directory, name), join(target, name), constants.COPYFILE_FICLONE);
  }
  await writeFile(join(images, `current-${image.manifest.arch}`), `${image.manifest.id}\n`);
  await chmod(root, 0o700);
  if (isRoot) await chownTree(root, user.uid, user.gid);
  return {
    root,
    home,
    stateDir: (name) => join(root, name),
    remove: () => (isRoot ? rm(root, { recursive: true, force: true }) : removeAsRoot(root)),
  };
}

async function removeAsRoot(path: string): Promise<void> {
  await asRoot(["rm", "-rf", "--", path]).catch(() => undefined);
}

/** One entry of a folder tree as root sees it. */
export interface TreeEntry {
  readonly path: string;
  readonly type: "file" | "dir" | "symlink" | "other";
  readonly mode: number;
  readonly uid: number;
  readonly gid: number;
  /** A file's bytes, base64. */
  readonly content?: string;
  /** A symlink's target. */
  readonly target?: string;
}

export interface TreeSnapshot {
  /** The folders asked for, each with whether it existed. */
  readonly roots: readonly { readonly path: string; readonly exists: boolean }[];
  /** Every entry under them (the roots included), parents before children. */
  readonly entries: readonly TreeEntry[];
}

// Run by root's node (as root, or through sudo): the tree with every file's bytes, mode and owner.
const SNAPSHOT_SCRIPT = `
const fs = require("node:fs"), path = require("node:path");
const roots = [], entries = [];
const walk = (p) => {
  const s = fs.lstatSync(p);
  const base = { path: p, mode: s.mode & 0o7777, uid: s.uid, gid: s.gid };
  if (s.isSymbolicLink()) entries.push({ ...base, type: "symlink", target: fs.readlinkSync(p) });
  else if (s.isFile()) entries.push({ ...base, type: "file", content: fs.readFileSync(p).toString("base64") });
  else if (s.isDirectory()) {
    entries.push({ ...base, type: "dir" });
    for (const name of fs.readdirSync(p).sort()) walk(path.join(p, name));
  } else entries.push({ ...base, type: "other" });
};
for (const root of process.argv.slice(1)) {
  const exists = fs.existsSync(root);
  roots.push({ path: root, exists });
  if (exists) walk(root);
}
process.stdout.write(JSON.stringify({ roots, entries }));
`;

// Run by root's node, the snapshot and the scope on stdin: removes what is new, puts back what
// changed or went; only paths in scope (equal to one listed, or under it), when a scope is given.
const RESTORE_SCRIPT = `
const fs = require("node:fs"), path = require("node:path");
const { snapshot, only } = JSON.parse(fs.readFileSync(0, "utf8"));
const inScope = (p) => !only || only.some((o) => p === o || p.startsWith(o + "/"));
const known = new Map(snapshot.entries.map((e) => [e.path, e]));
const prune = (p) => {
  let s;
  try { s = fs.lstatSync(p); } catch { return; }
  if (!known.has(p) && inScope(p)) return fs.rmSync(p, { recursive: true, force: true });
  if (s.isDirectory() && !s.isSymbolicLink()) for (const name of fs.readdirSync(p)) prune(path.join(p, name));
};
for (const root of snapshot.roots) {
  prune(root.path);
  // A folder that was absent goes again once nothing (of anyone's) is left in it.
  if (!root.exists) try { fs.rmdirSync(root.path); } catch {}
}
for (const e of snapshot.entries) {
  // Out of scope: left as it is, but a missing folder comes back (what is in scope may be in it).
  if (!inScope(e.path) && (e.type !== "dir" || fs.existsSync(e.path))) continue;
  let s;
  try { s = fs.lstatSync(e.path); } catch {}
  const kind = s === undefined ? undefined : s.isSymbolicLink() ? "symlink" : s.isFile() ? "file" : s.isDirectory() ? "dir" : "other";
  if (kind !== undefined && kind !== e.type) { fs.rmSync(e.path, { recursive: true, force: true }); s = undefined; }
  if (e.type === "dir" && s === undefined) fs.mkdirSync(e.path);
  if (e.type === "file") {
    const bytes = Buffer.from(e.content, "base64");
    if (s === undefined || !fs.readFileSync(e.path).equals(bytes)) fs.writeFileSync(e.path, bytes);
  }
  if (e.type === "symlink" && (s === undefined || fs.readlinkSync(e.path) !== e.target)) {
    fs.rmSync(e.path, { force: true });
    fs.symlinkSync(e.target, e.path);
  }
  if (e.type === "other") continue;
  fs.lchownSync(e.path, e.uid, e.gid);
  if (e.type !== "symlink") fs.chmodSync(e.path, e.mode);
}
`;

/** Every file under `roots` as root sees it: bytes, mode, owner; a missing root is recorded as such. */
export async function snapshotTree(roots: readonly string[]): Promise<TreeSnapshot> {
  const { stdout } = await asRoot([process.execPath, "-e", SNAPSHOT_SCRIPT, ...roots], { timeout: 60_000 });
  return JSON.parse(stdout) as TreeSnapshot;
}

/** What differs between two snapshots, one line each (empty: identical). */
export function treeDifferences(before: TreeSnapshot, after: TreeSnapshot): string[] {
  const differences: string[] = [];
  for (const root of before.roots) {
    const now = after.roots.find((r) => r.path === root.path);
    if (now !== undefined && now.exists !== root.exists) {
      differences.push(`${root.path}: ${root.exists ? "existed, now absent" : "was absent, now exists"}`);
    }
  }
  const was = new Map(before.entries.map((e) => [e.path, e]));
  const is = new Map(after.entries.map((e) => [e.path, e]));
  for (const [path, entry] of was) {
    const now = is.get(path);
    if (now === undefined) {
      differences.push(`${path}: gone`);
      continue;
    }
    if (now.type !== entry.type) differences.push(`${path}: was a ${entry.type}, now a ${now.type}`);
    if (now.mode !== entry.mode)
      differences.push(`${path}: mode ${entry.mode.toString(8)} → ${now.mode.toString(8)}`);
    if (now.uid !== entry.uid || now.gid !== entry.gid)
      differences.push(`${path}: owner ${entry.uid}:${entry.gid} → ${now.uid}:${now.gid}`);
    if (now.content !== entry.content) {
      const text = (b64?: string) => Buffer.from(b64 ?? "", "base64").toString("utf8");
      differences.push(
        `${path}: content changed\n--- was ---\n${text(entry.content)}\n--- now ---\n${text(now.content)}`,
      );
    }
    if (now.target !== entry.target)
      differences.push(`${path}: link → ${entry.target} became → ${now.target}`);
  }
  // A root that appeared is said above, once.
  const roots = new Set(before.roots.map((root) => root.path));
  for (const path of is.keys()) if (!was.has(path) && !roots.has(path)) differences.push(`${path}: new`);
  return differences;
}

/**
 * Puts the snapshot's folders back as it has them: what is new goes, what changed or went comes back
 * (bytes, mode, owner), a folder that was absent goes once empty. With `only`, just those paths (and
 * what is under them) are touched: on a shared machine, someone else's files in /etc stay.
 */
export async function restoreTree(snapshot: TreeSnapshot, only?: readonly string[]): Promise<void> {
  await asRoot([process.execPath, "-e", RESTORE_SCRIPT], {
    input: JSON.stringify({ snapshot, only }),
    timeout: 60_000,
  });
}

/** The host folders install writes into (its defaults), which the host tests snapshot whole. */
export const HOST_DIRS = ["/etc/nix", "/etc/ssh"] as const;

/**
 * Every path `install` of the builder on `port` may write with the default folders: its files, the
 * shared ones, their backups, the markers of folders it made, the connection-reuse folder.
 */
export function installScope(port: number): string[] {
  const dirs = { nixConfDir: "/etc/nix", sshConfigDir: "/etc/ssh/ssh_config.d" };
  const paths = installedPaths(dirs, port);
  const files = [
    paths.nixConf,
    "/etc/nix/nix.custom.conf",
    paths.machines,
    paths.key,
    paths.publicKey,
    paths.sshConfig,
  ];
  const markers = [dirs.nixConfDir, dirs.sshConfigDir].map((dir) =>
    join(dir, ".linux-builder-made-this-folder"),
  );
  return [...files, ...files.map(backupPath), ...markers, paths.controlDir];
}

/**
 * For a host test's `after`: when /etc differs from `original`, says how, and puts back what the
 * builder on `port` may have changed (installScope; someone else's files on a shared machine stay).
 * Returns the differences it found.
 */
export async function putHostBack(original: TreeSnapshot, port: number): Promise<string[]> {
  const differences = treeDifferences(original, await snapshotTree(HOST_DIRS));
  if (differences.length === 0) return differences;
  process.stderr.write(
    `# /etc is not as it was before the test; putting it back:\n${differences.join("\n")}\n`,
  );
  await restoreTree(original, installScope(port));
  const left = treeDifferences(original, await snapshotTree(HOST_DIRS));
  if (left.length > 0)
    process.stderr.write(`# still different (not the test's files?):\n${left.join("\n")}\n`);
  return differences;
}

const escapeRegExp = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, "\\$&");

/**
 * The line install prints before it runs its root half, as the user sees it:
 * `+ sudo --reset-timestamp NODE SCRIPT apply-host-plan [flags]`, on a line of its own.
 */
export function sudoLinePattern(script: string): RegExp {
  return new RegExp(
    `^\\+ sudo --reset-timestamp ${escapeRegExp(process.execPath)} ${escapeRegExp(script)} apply-host-plan(?: [^\\n]*)?\\r?$`,
    "m",
  );
}

/**
 * `treeDifferences` without the files of other builders (`linux-builder-N…` for a port N other than
 * `port`): install for `port` never writes those, but on a shared machine another test's builder
 * may come and go in /etc meanwhile. Everything else, the shared files included, stays compared.
 */
export function differencesForPort(before: TreeSnapshot, after: TreeSnapshot, port: number): string[] {
  return treeDifferences(before, after).filter((line) => {
    const other = /\/linux-builder-(\d+)[^/:]*: /.exec(line);
    return other === null || Number(other[1]) === port;
  });
}
