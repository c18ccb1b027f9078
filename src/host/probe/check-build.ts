import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { checkBuildExpression } from "../doctor/build.js";
import type { NixRoute } from "../doctor/nix.js";
import type { Host } from "../host.js";
import type { ExecError } from "../tool.js";

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
  host: Pick<Host, "env">,
  request: CheckBuildRequest,
): Promise<
  { kind: "built"; output: string; seconds: number } | { kind: "failed"; message: string; output: string }
> {
  const nonce = `${Date.now()}-${process.pid}-${Math.random().toString(36).slice(2)}`;
  const args = ["--max-jobs", "0", "--no-out-link", "-E", checkBuildExpression(request.system, nonce)];
  const env: NodeJS.ProcessEnv = { ...host.env, NIX_USER_CONF_FILES: "" };
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
