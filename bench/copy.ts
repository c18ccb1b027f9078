/**
 * Closure copy throughput, to and from the builder: a 512 MiB store path of random bytes
 * (incompressible, so that no compression along the way flatters it), added to the host's store with
 * `nix-store --add`, sent with `nix copy --to ssh-ng://builder@ALIAS`, deleted from the host's store
 * and fetched back with `nix copy --from`. Beside it, raw ssh over the same connection: the same
 * bytes through `cat` in the guest (to its /dev/null, and back from the store path). Everything goes
 * through exactly the alias `install` writes, so its ControlMaster connection carries all four, and
 * the builder's pinned host key.
 */
import { spawn } from "node:child_process";
import { randomBytes } from "node:crypto";
import { open, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { VmShape } from "./baseline-vm.js";
import { endReuse, type Installed, keepFailedConsole, OurBuilder, shortTempDir } from "./ours.js";
import { freePort, log, onInterrupt, runCommand, tail } from "./support.js";

/** The closure's size. */
export const COPY_BYTES = 512 * 1024 ** 2;

export interface Transfer {
  readonly seconds: number;
  /** 10^6 bytes per second. */
  readonly megabytesPerSecond: number;
}

export interface CopyFigures {
  readonly bytes: number;
  readonly storePath: string;
  readonly to: { readonly nixCopy: Transfer | null; readonly rawSsh: Transfer | null };
  readonly from: { readonly nixCopy: Transfer | null; readonly rawSsh: Transfer | null };
  readonly failures: readonly string[];
}

const transfer = (seconds: number): Transfer => ({ seconds, megabytesPerSecond: COPY_BYTES / 1e6 / seconds });

/** A file of `bytes` random bytes, written in 16 MiB pieces. */
async function randomFile(path: string, bytes: number): Promise<void> {
  const handle = await open(path, "w");
  try {
    for (let written = 0; written < bytes; ) {
      const piece = randomBytes(Math.min(16 * 1024 ** 2, bytes - written));
      await handle.write(piece);
      written += piece.length;
    }
  } finally {
    await handle.close();
  }
}

/**
 * `ssh ARGS` with stdin from `input` (or none), counting what it prints without keeping it (a
 * runCommand would hold 512 MiB in a string). Resolves with the seconds, or rejects saying why.
 */
async function sshStream(
  args: readonly string[],
  input: string | undefined,
  expectedOut: number,
): Promise<number> {
  const stdin = input === undefined ? undefined : await open(input, "r");
  try {
    return await new Promise((resolve, reject) => {
      const started = performance.now();
      const child = spawn("ssh", [...args], { stdio: [stdin?.fd ?? "ignore", "pipe", "pipe"] });
      let received = 0;
      let stderr = "";
      child.stdout?.on("data", (chunk: Buffer) => {
        received += chunk.length;
      });
      child.stderr?.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
      });
      child.once("error", reject);
      child.once("close", (code) => {
        const seconds = (performance.now() - started) / 1000;
        if (code !== 0) reject(new Error(`ssh ${args.at(-1)} failed (${code}): ${tail(stderr, 3)}`));
        else if (received !== expectedOut)
          reject(new Error(`ssh ${args.at(-1)} printed ${received} bytes, not ${expectedOut}`));
        else resolve(seconds);
      });
    });
  } finally {
    await stdin?.close();
  }
}

/** Runs one measurement; a failure is noted and leaves its figure empty, the others still run. */
async function attempt(
  what: string,
  failures: string[],
  measure: () => Promise<number>,
): Promise<Transfer | null> {
  try {
    const figure = transfer(await measure());
    log(`copy: ${what}: ${figure.seconds.toFixed(1)} s, ${figure.megabytesPerSecond.toFixed(1)} MB/s`);
    return figure;
  } catch (error) {
    failures.push(`${what}: ${(error as Error).message}`);
    log(`copy: ${what} failed: ${(error as Error).message}`);
    return null;
  }
}

export async function copyBench(shape: VmShape, diskGiB: number): Promise<CopyFigures> {
  const dir = await shortTempDir();
  const builder = new OurBuilder(join(dir, "state"), await freePort(), shape, diskGiB);
  const failures: string[] = [];
  let installed: Installed | undefined;
  let storePath = "";
  const cleanUp = async () => {
    if (storePath) await runCommand("nix-store", ["--delete", storePath]);
    await builder.stop().catch(() => undefined);
    await rm(dir, { recursive: true, force: true });
  };
  const unregister = onInterrupt(cleanUp);
  try {
    log("copy: ours: start, install");
    await builder.startReady(120, failures);
    installed = await builder.install(dir);
    // ssh checks the builder's host key as Nix's machines line pins it: from this known_hosts file,
    // under the alias (install's HostKeyAlias).
    const knownHosts = join(dir, "known_hosts");
    const [type, blob] = (await readFile(builder.layout.hostPublicKey, "utf8")).trim().split(/\s+/);
    await writeFile(knownHosts, `${installed.alias} ${type} ${blob}\n`);
    const { alias } = installed;
    const sshOptions = ["-F", installed.sshConfig, "-o", `UserKnownHostsFile=${knownHosts}`];
    const ssh = (command: string) => [...sshOptions, alias, command];
    const store = `ssh-ng://builder@${alias}`;
    const nix = async (args: readonly string[]) => {
      const result = await runCommand("nix", ["--extra-experimental-features", "nix-command", ...args], {
        env: { ...process.env, NIX_SSHOPTS: sshOptions.join(" ") },
        timeoutMs: 1_800_000,
      });
      if (result.code !== 0)
        throw new Error(`nix ${args[0]} failed (${result.code}): ${tail(result.stderr, 3)}`);
      return result.seconds;
    };
    // Every figure over an established master connection: the handshake is not what is measured.
    const warm = () => runCommand("ssh", ssh("true"), { timeoutMs: 60_000 });

    log(`copy: ${COPY_BYTES / 1024 ** 2} MiB of random bytes into the host's store`);
    const payload = join(dir, "lb-bench-copy");
    await randomFile(payload, COPY_BYTES);
    const added = await runCommand("nix-store", ["--add", payload], { timeoutMs: 600_000 });
    if (added.code !== 0) throw new Error(`nix-store --add failed: ${tail(added.stderr, 3)}`);
    storePath = added.stdout.trim();

    await warm();
    const rawTo = await attempt("raw ssh to the builder", failures, () =>
      sshStream(ssh("cat > /dev/null"), payload, 0),
    );
    await warm();
    const nixTo = await attempt("nix copy --to", failures, () => nix(["copy", "--to", store, storePath]));
    await rm(payload);
    await warm();
    const rawFrom = await attempt("raw ssh from the builder", failures, () =>
      sshStream(ssh(`cat ${storePath}`), undefined, COPY_BYTES),
    );
    // Gone from the host's store, so that --from really fetches it (no root holds it).
    const deleted = await runCommand("nix-store", ["--delete", storePath]);
    if (deleted.code !== 0) throw new Error(`nix-store --delete failed: ${tail(deleted.stderr, 3)}`);
    await warm();
    const nixFrom = await attempt("nix copy --from", failures, () =>
      nix(["copy", "--from", store, storePath]),
    );
    return {
      bytes: COPY_BYTES,
      storePath,
      to: { nixCopy: nixTo, rawSsh: rawTo },
      from: { nixCopy: nixFrom, rawSsh: rawFrom },
      failures,
    };
  } finally {
    unregister();
    if (installed) await endReuse(installed);
    // What the guest said, for a person to read, before its state folder goes.
    if (failures.length > 0) {
      const printed = await readFile(builder.layout.consoleLog, "utf8").catch(() => "");
      failures.push(`the guest's console: ${await keepFailedConsole("copy", printed)}`);
    }
    await cleanUp();
  }
}
