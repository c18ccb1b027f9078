/**
 * A builder run through the CLI under TCG and installed into folders of its own, for the slow tests
 * that build through the host's Nix and exactly what install writes. It has a LINUX_BUILDER_HOME of
 * its own (a temporary folder for its config.json, sharing the tests' package cache and images, see
 * testHome) and a free port; the guest image is composed first.
 *
 *   - `cli(command, ...args)`: `linux-builder COMMAND` with the builder's state folder, port, TCG and
 *     size (`--cpus`, `--memory`, `--disk`), then `args`.
 *   - `install()`: install into `nixConfDir` and `sshConfigDir` (under the home) instead of /etc.
 *   - `nixBuild(expression, { extraArgs, timeoutMs })`: nix-build with no local jobs, through the
 *     machines file and the ssh alias install wrote; `extraArgs` go before `--no-out-link -E`.
 *   - `configure(config)`: writes config.json (also done at creation when `config` is given).
 *   - `cleanup()`: stops the builder, whatever state it is in, and removes the home.
 *
 * `derivation(name, script, attributes)`: a one-step x86_64-linux derivation, new on each call.
 * `tcgBuilderCli(builder)`: the `cli` alone, for a test that needs no install (memory-reporting).
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { builderNames } from "../../src/nix/builders.js";
import { freePort, testHome, testImage } from "./guest-vm.js";

const run = promisify(execFile);

export interface InstalledBuilderOptions {
  /** Names the temporary home: lb-NAME-XXXXXX. */
  readonly name: string;
  /** config.json, written before the first command; none when absent. */
  readonly config?: Record<string, unknown>;
  readonly cpus?: number;
  readonly memoryMiB?: number;
  readonly diskGiB?: number;
  /** The largest output a CLI command may print (execFile's maxBuffer); execFile's default when absent. */
  readonly maxBuffer?: number;
}

export interface NixBuildOptions {
  /** nix-build options, after `--max-jobs 0 --builders @…` and before `--no-out-link -E`. */
  readonly extraArgs?: readonly string[];
  readonly timeoutMs?: number;
}

export interface InstalledBuilder {
  readonly home: string;
  readonly port: number;
  readonly stateDir: string;
  readonly nixConfDir: string;
  readonly sshConfigDir: string;
  /** The environment of the CLI's commands: this one's LINUX_BUILDER_HOME. */
  readonly env: NodeJS.ProcessEnv;
  cli(command: string, ...args: string[]): Promise<{ stdout: string; stderr: string }>;
  install(): Promise<{ stdout: string; stderr: string }>;
  nixBuild(expression: string, options?: NixBuildOptions): Promise<{ stdout: string; stderr: string }>;
  configure(config: Record<string, unknown>): Promise<void>;
  cleanup(): Promise<void>;
}

/** Where and how big a builder of a test's is, for `tcgBuilderCli`. */
export interface TcgBuilder {
  readonly stateDir: string;
  readonly port: number;
  readonly cpus: number;
  readonly memoryMiB: number;
  readonly diskGiB: number;
  /** The environment of the CLI's commands (its LINUX_BUILDER_HOME). */
  readonly env: NodeJS.ProcessEnv;
  readonly maxBuffer?: number;
}

/** `linux-builder COMMAND` with the builder's state folder, port, TCG and size, then `args`. */
export function tcgBuilderCli(builder: TcgBuilder) {
  const { stateDir, port, cpus, memoryMiB, diskGiB, env, maxBuffer } = builder;
  return (command: string, ...args: string[]) =>
    run(
      "node",
      [
        "bin/linux-builder.js",
        command,
        ...["--state-dir", stateDir, "--port", String(port), "--accel", "tcg"],
        ...["--cpus", String(cpus), "--memory", String(memoryMiB), "--disk", String(diskGiB)],
        ...args,
      ],
      { env, timeout: 900_000, ...(maxBuffer ? { maxBuffer } : {}) },
    );
}

export async function installedBuilder(options: InstalledBuilderOptions): Promise<InstalledBuilder> {
  const { cpus = 2, memoryMiB = 1024, diskGiB = 8 } = options;
  await testImage("amd64");
  const home = await mkdtemp(join(tmpdir(), `lb-${options.name}-`));
  await symlink(join(testHome(), "cache"), join(home, "cache"));
  await symlink(join(testHome(), "images"), join(home, "images"));
  const configure = (config: Record<string, unknown>) =>
    writeFile(join(home, "config.json"), JSON.stringify(config));
  if (options.config) await configure(options.config);
  const port = await freePort();
  const stateDir = join(home, "state");
  const nixConfDir = join(home, "etc-nix");
  const sshConfigDir = join(home, "ssh_config.d");
  await mkdir(nixConfDir);
  await mkdir(sshConfigDir);
  const env = { ...process.env, LINUX_BUILDER_HOME: home };
  const cli = tcgBuilderCli({
    stateDir,
    port,
    cpus,
    memoryMiB,
    diskGiB,
    env,
    ...(options.maxBuffer ? { maxBuffer: options.maxBuffer } : {}),
  });
  return {
    home,
    port,
    stateDir,
    nixConfDir,
    sshConfigDir,
    env,
    cli,
    install: () => cli("install", "--nix-conf-dir", nixConfDir, "--ssh-config-dir", sshConfigDir),
    nixBuild: (expression, { extraArgs = [], timeoutMs = 900_000 } = {}) =>
      run(
        "nix-build",
        [
          ...["--max-jobs", "0", "--builders", `@${nixConfDir}/machines`, ...extraArgs],
          ...["--no-out-link", "-E", expression],
        ],
        {
          env: { ...process.env, NIX_SSHOPTS: `-F ${join(sshConfigDir, builderNames(port).sshConfigFile)}` },
          timeout: timeoutMs,
        },
      ),
    configure,
    async cleanup() {
      await cli("stop").catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
}

/** A Nix string literal: JSON's escapes, and `${` (antiquotation in Nix) escaped too. */
const nixString = (text: string) => JSON.stringify(text).replaceAll("${", "\\${");

/** A derivation built by the sandbox's /bin/sh running `script`; `attributes` are more of its fields. */
export const derivation = (name: string, script = "echo built > $out", attributes = "") =>
  `derivation { name = "${name}"; system = "x86_64-linux"; builder = "/bin/sh"; nonce = "${Date.now()}"; ${attributes} args = [ "-c" ${nixString(script)} ]; }`;
