/**
 * The I/O behind `linux-builder doctor`: runs the host's tools and reads its files, and hands the
 * facts to the pure checks in doctor.ts. Nothing here decides; nothing here throws for a missing tool.
 */
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { createServer } from "node:net";
import { release, tmpdir, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { machinesLine, sshConfigBlock } from "../nix/builders.js";
import type { StateLayout } from "../vm/state.js";
import { sshArgs } from "../vm/supervisor.js";
import {
  checkBuildExpression,
  type FileFacts,
  type HostSystem,
  type Listener,
  type NixRoute,
  type PortProbe,
  parseLsofListeners,
  type ToolResult,
} from "./doctor.js";

const execFileAsync = promisify(execFile);

interface ExecError extends Error {
  code?: string | number;
  stdout?: string;
  stderr?: string;
  killed?: boolean;
}

/** The first lines of what a failed command said, for a one-line verdict. */
function failureMessage(error: ExecError, timeoutMs: number): string {
  if (error.killed) return `no answer within ${timeoutMs / 1000} s`;
  const said = (error.stderr ?? "").trim() || (error.stdout ?? "").trim();
  const lines = said.split("\n").filter((line) => line.trim() !== "");
  return lines.length > 0 ? lines.slice(-3).join(" / ") : error.message;
}

/** Runs a tool: what it printed, or that it is not installed, or how it failed. */
export async function runTool(
  command: string,
  args: readonly string[],
  options: { timeoutMs?: number; env?: NodeJS.ProcessEnv } = {},
): Promise<ToolResult> {
  const timeoutMs = options.timeoutMs ?? 30_000;
  try {
    const { stdout } = await execFileAsync(command, [...args], {
      timeout: timeoutMs,
      maxBuffer: 64 * 1024 * 1024,
      ...(options.env ? { env: options.env } : {}),
    });
    return { kind: "ran", stdout };
  } catch (error) {
    const e = error as ExecError;
    if (e.code === "ENOENT") return { kind: "missing" };
    return { kind: "failed", message: failureMessage(e, timeoutMs) };
  }
}

export async function probeHostSystem(): Promise<HostSystem> {
  if (process.platform === "darwin") {
    return { platform: "darwin", swVers: await runTool("sw_vers", ["-productVersion"]) };
  }
  if (process.platform === "linux") {
    const osRelease = await readFile("/etc/os-release", "utf8").catch(() =>
      readFile("/usr/lib/os-release", "utf8").catch(() => undefined),
    );
    return { platform: "linux", kernel: release(), osRelease };
  }
  return { platform: "other", name: process.platform };
}

/** Binds address:port as QEMU will, and lets go at once. */
export async function probePort(address: string, port: number): Promise<PortProbe> {
  const server = createServer();
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen({ port, host: address, exclusive: true }, resolve);
    });
    return "free";
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "EADDRINUSE") return "in-use";
    if (code === "EACCES") return "denied";
    return { error: (error as Error).message };
  } finally {
    await new Promise((resolve) => server.close(resolve));
  }
}

/** Who listens on the port, per lsof (macOS and Linux alike); undefined when lsof cannot say. */
export async function portListeners(port: number): Promise<Listener[] | undefined> {
  try {
    const { stdout } = await execFileAsync("lsof", ["-nP", `-iTCP:${port}`, "-sTCP:LISTEN", "-FpcLn"], {
      timeout: 30_000,
    });
    return parseLsofListeners(stdout);
  } catch (error) {
    const e = error as ExecError;
    // lsof exits 1 when nothing matches.
    if (e.code === 1 && (e.stdout ?? "").trim() === "") return [];
    if (e.code === 1 && (e.stdout ?? "").trim() !== "") return parseLsofListeners(e.stdout ?? "");
    return undefined;
  }
}

const NIX = ["--extra-experimental-features", "nix-command"];

/** Nix's settings as JSON: `nix config show` (newer Nix), else `nix show-config` (Nix 2.8's name). */
export async function nixConfigJson(nixConfDir: string): Promise<ToolResult> {
  const env = { ...process.env, NIX_CONF_DIR: nixConfDir };
  const current = await runTool("nix", [...NIX, "config", "show", "--json"], { env });
  if (current.kind !== "failed") return current;
  return runTool("nix", [...NIX, "show-config", "--json"], { env });
}

/**
 * The machines text behind a `builders` setting: inline lines as they are, `@file` entries read
 * (an unreadable file adds nothing).
 */
export async function buildersText(setting: unknown): Promise<string> {
  if (typeof setting !== "string") return "";
  const parts: string[] = [];
  for (const entry of setting.split(/[\n;]/).map((part) => part.trim())) {
    if (entry.startsWith("@")) parts.push(await readFile(entry.slice(1), "utf8").catch(() => ""));
    else parts.push(entry);
  }
  return parts.join("\n");
}

export async function currentUser(): Promise<{ name: string; uid: number; groups: string[] }> {
  const info = userInfo();
  const groups = await runTool("id", ["-Gn"]);
  return {
    name: info.username,
    uid: info.uid,
    groups: groups.kind === "ran" ? groups.stdout.trim().split(/\s+/) : [],
  };
}

/** What Nix's `auto` store looks at: NIX_REMOTE, whether its state dir is writable, the daemon's socket. */
export async function nixRouteFacts(): Promise<{
  nixRemote: string | undefined;
  stateDirWritable: boolean;
  daemonSocket: boolean;
}> {
  const stateDir = process.env.NIX_STATE_DIR ?? "/nix/var/nix";
  const socket = process.env.NIX_DAEMON_SOCKET_PATH ?? join(stateDir, "daemon-socket", "socket");
  return {
    nixRemote: process.env.NIX_REMOTE,
    stateDirWritable: await access(stateDir, constants.W_OK).then(
      () => true,
      () => false,
    ),
    daemonSocket: await stat(socket).then(
      (info) => info.isSocket(),
      () => false,
    ),
  };
}

export async function fileFacts(path: string): Promise<FileFacts> {
  const info = await stat(path).catch(() => undefined);
  return { path, stat: info === undefined ? undefined : { mode: info.mode, uid: info.uid } };
}

export async function readOptional(path: string): Promise<string | undefined> {
  return readFile(path, "utf8").catch(() => undefined);
}

/** macOS: whether Hypervisor.framework is usable (kern.hv_support); undefined when unknown. */
export async function hvSupport(): Promise<boolean | undefined> {
  if (process.platform !== "darwin") return undefined;
  const result = await runTool("sysctl", ["-n", "kern.hv_support"]);
  return result.kind === "ran" ? result.stdout.trim() === "1" : undefined;
}

/** The running builder's kernel release, asked over ssh. */
export async function guestKernel(layout: StateLayout, port: number): Promise<ToolResult> {
  return runTool("ssh", [...sshArgs(layout, port), "cat", "/proc/sys/kernel/osrelease"]);
}

export interface CheckBuildRequest {
  readonly route: NixRoute;
  readonly layout: StateLayout;
  readonly port: number;
  readonly alias: string;
  readonly system: string;
  readonly timeoutMs: number;
}

/**
 * Builds a fresh trivial derivation with the host's nix-build and --max-jobs 0, so only a remote
 * builder can build it. Without a daemon (root, single-user Nix) it goes through a temporary
 * machines file and ssh_config alias pointing at this builder, as `install` would write them; through
 * a daemon, the daemon's own builders (what `install` set up) are used, since a client's
 * NIX_SSHOPTS never reaches the daemon.
 */
export async function runCheckBuild(
  request: CheckBuildRequest,
): Promise<{ kind: "built"; output: string; seconds: number } | { kind: "failed"; message: string }> {
  const { layout } = request;
  const dir = await mkdtemp(join(tmpdir(), "linux-builder-doctor-"));
  try {
    const nonce = `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2)}`;
    const args = ["--max-jobs", "0", "--no-out-link", "-E", checkBuildExpression(request.system, nonce)];
    let env: NodeJS.ProcessEnv = process.env;
    if (request.route === "local") {
      const machines = join(dir, "machines");
      const sshConfig = join(dir, "ssh_config");
      const hostPublicKey = await readFile(layout.hostPublicKey, "utf8");
      await writeFile(
        machines,
        `${machinesLine({
          alias: request.alias,
          system: request.system,
          identityFile: layout.builderKey,
          maxJobs: 1,
          speedFactor: 1,
          supportedFeatures: [],
          hostPublicKey,
        })}\n`,
      );
      await writeFile(
        sshConfig,
        sshConfigBlock({ alias: request.alias, port: request.port, identityFile: layout.builderKey }),
      );
      args.unshift("--builders", `@${machines}`);
      env = { ...process.env, NIX_SSHOPTS: `-F ${sshConfig}` };
    }
    const started = performance.now();
    const result = await runTool("nix-build", args, { timeoutMs: request.timeoutMs, env });
    const seconds = (performance.now() - started) / 1000;
    if (result.kind === "missing") return { kind: "failed", message: "nix-build is not installed" };
    if (result.kind === "failed") return { kind: "failed", message: result.message };
    const outPath = result.stdout.trim().split("\n").at(-1) ?? "";
    const output = await readFile(outPath, "utf8").catch(() => undefined);
    if (output === undefined) return { kind: "failed", message: `cannot read its output ${outPath}` };
    return { kind: "built", output, seconds };
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}
