/**
 * The I/O behind `linux-builder doctor`: runs the host's tools and reads its files, and hands the
 * facts to the pure checks in doctor.ts. Nothing here decides; nothing here throws for a missing tool.
 */
import { execFile } from "node:child_process";
import { constants } from "node:fs";
import { access, readFile, realpath, stat } from "node:fs/promises";
import { createServer } from "node:net";
import { homedir, release, userInfo } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { parseMachines } from "../nix/machines-file.js";
import { parseNixConf, type SettingSource } from "../nix/nix-conf.js";
import { sshArgs } from "../ssh/builder-ssh.js";
import type { StateLayout } from "../vm/state.js";
import {
  checkBuildExpression,
  type FileFacts,
  type FileText,
  type HostSystem,
  type Listener,
  type MachinesFiles,
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

/** A file's text, or why there is none: a root-only file (EACCES, not root) is not an error. */
export async function readFileText(path: string): Promise<FileText> {
  try {
    return { kind: "text", text: await readFile(path, "utf8") };
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code;
    if (code === "ENOENT" || code === "ENOTDIR") return { kind: "missing" };
    if (code === "EACCES" && process.getuid?.() !== 0) return { kind: "root-only" };
    return { kind: "unreadable", message: (error as Error).message };
  }
}

/** The machines file and the files its `@` lines name (as Nix reads them, a few levels deep). */
export async function readMachinesFiles(path: string): Promise<MachinesFiles> {
  const files: { path: string; content: FileText }[] = [];
  const visit = async (file: string, depth: number) => {
    if (depth > 4 || files.some((f) => f.path === file)) return;
    const content = await readFileText(file);
    files.push({ path: file, content });
    if (content.kind !== "text") return;
    for (const include of parseMachines(content.text).includes) await visit(include.path, depth + 1);
  };
  await visit(path, 0);
  return { path, files };
}

/** The paths that are this file: as named, and resolved through symlinks (macOS: /etc → /private/etc). */
export async function samePaths(path: string): Promise<string[]> {
  const resolved = await realpath(path).catch(() => path);
  return [...new Set([path, resolved])];
}

const BUILDER_SETTINGS = ["builders", "extra-builders"];

/** The builders settings of a nix.conf and the files it includes, in the order Nix applies them. */
export async function nixConfBuilderSettings(path: string, depth = 0): Promise<SettingSource[]> {
  const content = await readFileText(path);
  if (content.kind !== "text" || depth > 8) return [];
  const found: SettingSource[] = [];
  for (const item of parseNixConf(content.text, path)) {
    if (item.kind === "include") found.push(...(await nixConfBuilderSettings(item.path, depth + 1)));
    else if (item.kind === "setting" && BUILDER_SETTINGS.includes(item.name)) {
      found.push({ source: path, line: item.line, name: item.name, value: item.value });
    }
  }
  return found;
}

/**
 * The user's own builders settings, as a Nix client applies them after nix.conf: the user config
 * files (NIX_USER_CONF_FILES, else XDG_CONFIG_HOME and XDG_CONFIG_DIRS, the first winning), then
 * NIX_CONFIG (globals.cc, loadConfFile).
 */
export async function clientBuilderSettings(): Promise<SettingSource[]> {
  const env = process.env;
  const files =
    env.NIX_USER_CONF_FILES !== undefined
      ? env.NIX_USER_CONF_FILES.split(":").filter(Boolean)
      : [
          env.XDG_CONFIG_HOME ?? join(homedir(), ".config"),
          ...(env.XDG_CONFIG_DIRS ?? "/etc/xdg").split(":").filter(Boolean),
        ].map((dir) => join(dir, "nix", "nix.conf"));
  const found: SettingSource[] = [];
  for (const file of [...files].reverse()) found.push(...(await nixConfBuilderSettings(file)));
  if (env.NIX_CONFIG !== undefined) {
    for (const item of parseNixConf(env.NIX_CONFIG, "NIX_CONFIG")) {
      if (item.kind === "setting" && BUILDER_SETTINGS.includes(item.name)) {
        found.push({ source: "NIX_CONFIG", line: 0, name: item.name, value: item.value });
      }
    }
  }
  return found;
}

/**
 * What ssh makes of the alias (`ssh -G`): as root, root's view; otherwise the system ssh_config's
 * (`-F`, leaving out the user's own ~/.ssh/config, which the daemon's ssh never reads).
 */
export async function sshEffectiveConfig(alias: string, systemConfig: string): Promise<ToolResult> {
  const asRoot = process.getuid?.() === 0;
  return runTool("ssh", [...(asRoot ? [] : ["-F", systemConfig]), "-G", alias]);
}

/** root's home, where its ssh reads ~/.ssh/known_hosts. */
export function rootHome(): string {
  return process.platform === "darwin" ? "/var/root" : "/root";
}

export interface CheckBuildRequest {
  readonly route: NixRoute;
  /** The Nix configuration folder install wrote to (its machines file, nix.conf). */
  readonly nixConfDir: string;
  readonly system: string;
  readonly timeoutMs: number;
}

/**
 * Builds a fresh trivial derivation with the host's nix-build and --max-jobs 0, so only a remote
 * builder can build it, through what `install` wrote and nothing else: no temporary machines file, no
 * NIX_SSHOPTS, none of the user's own settings (NIX_CONFIG, ~/.config/nix/nix.conf; a trusted user's
 * would reach the daemon). Through a daemon, the daemon's own builders, key and root's ssh do the
 * work. Without one (root, as the tests run it), Nix reads NIX_CONF_DIR's nix.conf and machines file,
 * as the daemon would, and runs root's ssh with the system ssh_config.
 */
export async function runCheckBuild(
  request: CheckBuildRequest,
): Promise<
  { kind: "built"; output: string; seconds: number } | { kind: "failed"; message: string; output: string }
> {
  const nonce = `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const args = ["--max-jobs", "0", "--no-out-link", "-E", checkBuildExpression(request.system, nonce)];
  const env: NodeJS.ProcessEnv = { ...process.env, NIX_USER_CONF_FILES: "" };
  delete env.NIX_CONFIG;
  delete env.NIX_SSHOPTS;
  if (request.route === "local") env.NIX_CONF_DIR = request.nixConfDir;
  const started = performance.now();
  const result = await new Promise<{
    code: number | string | null;
    stdout: string;
    stderr: string;
    killed: boolean;
  }>((resolve) => {
    execFile(
      "nix-build",
      args,
      { env, timeout: request.timeoutMs, maxBuffer: 64 * 1024 * 1024 },
      (error, stdout, stderr) => {
        const e = error as ExecError | null;
        resolve({ code: e === null ? 0 : (e.code ?? 1), stdout, stderr, killed: e?.killed ?? false });
      },
    );
  });
  const seconds = (performance.now() - started) / 1000;
  if (result.code === "ENOENT") return { kind: "failed", message: "nix-build is not installed", output: "" };
  if (result.code !== 0) {
    const output = `${result.stderr}\n${result.stdout}`;
    const message = result.killed
      ? `no answer within ${request.timeoutMs / 1000} s`
      : buildFailureLines(output);
    return { kind: "failed", message, output };
  }
  const outPath = result.stdout.trim().split("\n").at(-1) ?? "";
  const output = await readFile(outPath, "utf8").catch(() => undefined);
  if (output === undefined)
    return { kind: "failed", message: `cannot read its output ${outPath}`, output: "" };
  return { kind: "built", output, seconds };
}

/** The lines of a failed build worth a one-line verdict: ssh's and Nix's errors, not the noise. */
function buildFailureLines(output: string): string {
  const lines = output
    .split("\n")
    .map((line) => line.trim())
    .filter((line) => line !== "" && !line.startsWith("warning:") && !/^@+$/.test(line));
  const telling = lines.filter((line) =>
    /Host key verification failed|REVOKED|HAS CHANGED|Could not resolve|Permission denied|Connection refused|bad machine specification|^error:|cannot build on/i.test(
      line,
    ),
  );
  return (telling.length > 0 ? telling : lines).slice(-3).join(" / ");
}
