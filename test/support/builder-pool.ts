/**
 * Several builders run through the CLI under TCG and installed side by side into the same test
 * folders (standing in for /etc/nix and /etc/ssh/ssh_config.d), as a user's pool: one
 * LINUX_BUILDER_HOME (so one record of installed builders), each builder its own state folder, port
 * and size. The guest image is composed first.
 *
 *   - `members[i].cli(command, ...args)`: `linux-builder COMMAND` for that builder (tcgBuilderCli).
 *   - `members[i].install()`: install it into the shared folders.
 *   - `nixBuild(expression)`: one nix-build with no local jobs through the shared machines file, ssh
 *     reading every alias the members' installs wrote.
 *   - `cleanup()`: stops every member and removes the home.
 */
import { execFile } from "node:child_process";
import { mkdir, mkdtemp, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { freePort, testHome, testImage } from "./guest-vm.js";
import { tcgBuilderCli } from "./installed-builder.js";

const run = promisify(execFile);

export interface PoolMemberOptions {
  readonly cpus: number;
  readonly memoryMiB: number;
  /** Builds Nix may run on it at once (its --max-jobs). */
  readonly maxJobs: number;
}

export interface PoolMember {
  readonly port: number;
  readonly stateDir: string;
  cli(command: string, ...args: string[]): Promise<{ stdout: string; stderr: string }>;
  install(): Promise<{ stdout: string; stderr: string }>;
}

export interface BuilderPool {
  readonly home: string;
  readonly nixConfDir: string;
  readonly sshConfigDir: string;
  readonly members: readonly PoolMember[];
  nixBuild(expression: string, timeoutMs?: number): Promise<{ stdout: string; stderr: string }>;
  cleanup(): Promise<void>;
}

export async function builderPool(name: string, options: readonly PoolMemberOptions[]): Promise<BuilderPool> {
  await testImage("amd64");
  const home = await mkdtemp(join(tmpdir(), `lb-${name}-`));
  await symlink(join(testHome(), "cache"), join(home, "cache"));
  await symlink(join(testHome(), "images"), join(home, "images"));
  const nixConfDir = join(home, "etc-nix");
  const sshConfigDir = join(home, "ssh_config.d");
  await mkdir(nixConfDir);
  await mkdir(sshConfigDir);
  const env = { ...process.env, LINUX_BUILDER_HOME: home };
  const ports = new Set<number>();
  const members: PoolMember[] = [];
  for (const [index, member] of options.entries()) {
    let port = await freePort();
    // Two picks in a row may find the same free port (neither is bound yet).
    while (ports.has(port)) port = await freePort();
    ports.add(port);
    const stateDir = join(home, `state-${index}`);
    const cli = tcgBuilderCli({
      stateDir,
      port,
      cpus: member.cpus,
      memoryMiB: member.memoryMiB,
      diskGiB: 8,
      env,
    });
    const withJobs = (command: string, ...args: string[]) =>
      cli(command, "--max-jobs", String(member.maxJobs), ...args);
    members.push({
      port,
      stateDir,
      cli: withJobs,
      install: () =>
        withJobs("install", "--no-service", "--nix-conf-dir", nixConfDir, "--ssh-config-dir", sshConfigDir),
    });
  }
  // ssh reads every member's alias, as the system ssh_config's Include of the folder would.
  const sshConfig = join(home, "ssh_config");
  await writeFile(sshConfig, `Include ${sshConfigDir}/*.conf\n`);
  return {
    home,
    nixConfDir,
    sshConfigDir,
    members,
    nixBuild: (expression, timeoutMs = 1_800_000) =>
      run(
        "nix-build",
        ["--max-jobs", "0", "--builders", `@${nixConfDir}/machines`, "--no-out-link", "-E", expression],
        { env: { ...process.env, NIX_SSHOPTS: `-F ${sshConfig}` }, timeout: timeoutMs },
      ),
    async cleanup() {
      for (const member of members) await member.cli("stop").catch(() => undefined);
      await rm(home, { recursive: true, force: true });
    },
  };
}
