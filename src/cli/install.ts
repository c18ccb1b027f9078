import { spawn } from "node:child_process";
import { readFile } from "node:fs/promises";
import type { Command } from "commander";
import type { Config } from "../config/config.js";
import { resolvePaths } from "../config/paths.js";
import { errorReportSchema, LinuxBuilderError } from "../errors.js";
import { applyPlan, canApplyDirectly } from "../host/apply-plan.js";
import { currentHost } from "../host/host.js";
import { readHostState } from "../host/host-state.js";
import { planInstall, planUninstall } from "../host/install-plan.js";
import { DEFAULT_NIX_CONF_DIR, DEFAULT_SSH_CONFIG_DIR } from "../host/installed-paths.js";
import { type ApplyReport, applyReportSchema, type Plan, planSchema } from "../host/plan.js";
import { describePlan } from "../host/plan-description.js";
import { ARCHITECTURES } from "../image/guest/profile.js";
import { parseJsonText } from "../json.js";
import { ensureKeys, stateLayout } from "../vm/state.js";
import { addConfigFlags, type ConfigFlags, loadConfig } from "./vm.js";

export interface HostDirs {
  readonly nixConfDir: string;
  readonly sshConfigDir: string;
}

interface InstallFlags extends ConfigFlags {
  dryRun?: boolean;
  nixConfDir: string;
  sshConfigDir: string;
}

const say = (line: string) => process.stderr.write(`${line}\n`);

/** The host-side plan that delegates builds to this builder. */
export async function installPlan(config: Config, dirs: HostDirs): Promise<Plan> {
  const layout = stateLayout(config.stateDir);
  const keys = await ensureKeys(layout);
  const state = await readHostState(currentHost(), dirs, config.port);
  return planInstall(state, {
    port: config.port,
    entry: {
      system: ARCHITECTURES[config.arch].nixSystem,
      maxJobs: config.maxJobs,
      speedFactor: config.speedFactor,
      supportedFeatures: config.supportedFeatures,
      hostPublicKey: keys.hostPublicKey,
    },
    keys: { privateKey: await readFile(layout.builderKey, "utf8"), publicKey: keys.builderPublicKey },
    stateKeyFile: layout.builderKey,
  });
}

/**
 * The command that applies a plan as root, as the seed does (`sudo --reset-timestamp
 * install-credentials`): always asking for the password, so the user sees what they allow.
 */
export function sudoCommand(node: string, script: string): string[] {
  return ["sudo", "--reset-timestamp", node, script, "apply-host-plan", "--json"];
}

/** Applies the plan here, or through one sudo that reads it on stdin; says what happened. */
export async function executePlan(plan: Plan): Promise<void> {
  if (plan.steps.length === 0) return;
  let failedCommands: readonly string[];
  if (await canApplyDirectly(currentHost(), plan)) {
    ({ failedCommands } = await applyPlan(currentHost(), plan, (line) => say(`  ${line}`)));
  } else {
    const [command, ...args] = sudoCommand(process.execPath, process.argv[1] ?? "linux-builder");
    say(
      `Root is needed to change ${[...new Set(plan.steps.flatMap((s) => ("path" in s ? [s.path] : [])))].join(", ")}:`,
    );
    say(`+ ${command} ${args.join(" ")}`);
    failedCommands = await applyWithSudo(command ?? "sudo", args, plan);
  }
  for (const failure of failedCommands) {
    say(`linux-builder: warning: ${failure}`);
    say("  The files are in place; restart the Nix daemon yourself so it reads them.");
  }
  for (const note of plan.notes) say(`note: ${note}`);
}

/** Runs the root half through `command args` (sudo), the plan on its stdin; returns its report. */
export async function applyWithSudo(command: string, args: string[], plan: Plan): Promise<readonly string[]> {
  const child = spawn(command, args, { stdio: ["pipe", "pipe", "inherit"] });
  // sudo refused (a wrong password) exits without reading the plan: its exit status says so.
  child.stdin.on("error", () => undefined);
  child.stdin.end(JSON.stringify(plan));
  let output = "";
  child.stdout.on("data", (chunk: Buffer) => {
    output += chunk.toString("utf8");
  });
  const ended = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>(
    (resolve, reject) => {
      child.on("error", reject);
      child.on("exit", (code, signal) => resolve({ code, signal }));
    },
  );
  // The root half's last line: its report, or the error it stopped with (it undid what it had done).
  const last = parseJsonText(output.trim().split("\n").pop() ?? "");
  const failure = errorReportSchema.safeParse(last);
  if (failure.success) {
    const { code, message, hint } = failure.data.error;
    throw new LinuxBuilderError(code, message, hint === null ? {} : { hint });
  }
  const report = applyReportSchema.safeParse(last);
  if (ended.code === 0 && report.success) return report.data.failedCommands;
  const hint = `Run the command again and give ${command} your password; \`--dry-run\` shows every change it would make first.`;
  if (ended.signal !== null || ended.code === 130) {
    throw new LinuxBuilderError(
      "install.sudo-cancelled",
      `The privileged step was cancelled (${ended.signal ?? "interrupted"}); nothing was changed`,
      { hint },
    );
  }
  if (ended.code === 1 && output === "") {
    throw new LinuxBuilderError(
      "install.sudo-refused",
      `${command} did not run linux-builder's privileged step (a wrong or missing password, or this user may not use ${command}); nothing was changed`,
      { hint },
    );
  }
  throw new LinuxBuilderError(
    "install.sudo",
    `The privileged step failed (exit status ${ended.code}; its message is above)`,
    {
      hint: "Each file is replaced whole and a failure puts back what was done: run `linux-builder doctor`, then the command again.",
    },
  );
}

/**
 * Reads the plan the user's half wrote to our stdin. Anything else there (someone typing, a plan from
 * another version of linux-builder) is refused before a file is touched.
 */
export function parsePlan(text: string): Plan {
  let json: unknown;
  try {
    json = JSON.parse(text);
  } catch {
    throw new LinuxBuilderError(
      "install.plan",
      "apply-host-plan read something that is not a plan (not JSON) on its standard input; nothing was changed",
      {
        hint: "It is run by `linux-builder install` and `uninstall` through sudo, not by hand: run one of those.",
      },
    );
  }
  const parsed = planSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    const where = issue === undefined || issue.path.length === 0 ? "" : `${issue.path.join(".")}: `;
    throw new LinuxBuilderError(
      "install.plan",
      `apply-host-plan was given a plan it does not understand (${where}${issue?.message ?? "invalid"}); nothing was changed`,
      {
        hint: "The linux-builder that made the plan and the one sudo runs must be the same: run `linux-builder install` (or `uninstall`) again.",
      },
    );
  }
  return parsed.data;
}

/** `apply-host-plan`: the root half of install, reading the plan the user's half made from stdin. */
async function applyHostPlan(): Promise<void> {
  if (process.stdin.isTTY) {
    throw new LinuxBuilderError("install.plan", "apply-host-plan reads a plan on its standard input", {
      hint: "It is run by `linux-builder install` and `uninstall` through sudo, not by hand: run one of those.",
    });
  }
  const chunks: Buffer[] = [];
  for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
  const plan = parsePlan(Buffer.concat(chunks).toString("utf8"));
  const report: ApplyReport = await applyPlan(currentHost(), plan, (line) => say(`  ${line}`));
  process.stdout.write(`${JSON.stringify(report)}\n`);
}

function addHostDirFlags(command: Command): Command {
  return command
    .option("--dry-run", "show every file change and command, and do nothing")
    .option("--nix-conf-dir <dir>", "where nix.conf, machines and the key go", DEFAULT_NIX_CONF_DIR)
    .option("--ssh-config-dir <dir>", "where the ssh_config alias goes", DEFAULT_SSH_CONFIG_DIR);
}

async function install(flags: InstallFlags): Promise<void> {
  const config = await loadConfig(resolvePaths(currentHost()), flags);
  const plan = await installPlan(config, flags);
  if (flags.dryRun || plan.steps.length === 0) {
    process.stdout.write(describePlan(plan));
    if (plan.steps.length === 0) return;
    if (flags.dryRun) return;
  }
  await executePlan(plan);
  say("Installed: Nix hands Linux builds to the builder while it runs (`linux-builder start`).");
}

async function uninstall(flags: InstallFlags): Promise<void> {
  const config = await loadConfig(resolvePaths(currentHost()), flags);
  const layout = stateLayout(config.stateDir);
  const ourPublicKey = await readFile(layout.builderPublicKey, "utf8").catch(() => undefined);
  const plan = planUninstall(
    await readHostState(currentHost(), flags, config.port),
    config.port,
    ourPublicKey,
  );
  if (flags.dryRun || plan.steps.length === 0) {
    process.stdout.write(describePlan(plan));
    return;
  }
  await executePlan(plan);
  say("Uninstalled: the host's files are as they were before `linux-builder install`.");
}

export function registerInstallCommands(program: Command): void {
  addHostDirFlags(
    addConfigFlags(
      program
        .command("install")
        .description(
          "hand Nix's Linux builds to the builder: key, machines entry, ssh alias, daemon restart (sudo)",
        ),
    ),
  ).action(install);
  addHostDirFlags(
    addConfigFlags(program.command("uninstall").description("undo `install` exactly, restoring every file")),
  ).action(uninstall);
  program
    .command("apply-host-plan", { hidden: true })
    .description("(internal) apply an install plan from stdin as root")
    .option("--json", "say how it ended as JSON on stdout: the report, or the error")
    .action(applyHostPlan);
}
