import { LinuxBuilderError } from "../errors.js";
import { type BuilderEntry, machinesLine, sshConfigBlock } from "../nix/builders.js";
import { declarativeSnippet } from "../nix/declarative-snippet.js";
import { hasBlock, hasDamagedBlock, withBlock, withoutBlock } from "../nix/managed-block.js";
import { includesCustomConf, sshIncludesDir } from "./config-includes.js";
import { fileContent, type HostState } from "./host-state.js";
import { checkBuildersSetting, checkMachinesFile, checkWritable, damagedBlock } from "./install-refusals.js";
import {
  controlPathFits,
  installedPaths,
  installedPorts,
  NIX_CONF_BLOCK,
  ourBlocks,
} from "./installed-paths.js";
import type { Plan, Step } from "./plan.js";
import { PlanBuilder } from "./plan-builder.js";
import { inRunOrder, planService, planServiceRemoval, type ServiceRequest } from "./plan-service.js";
import type { DaemonRestart } from "./platform/platform.js";
import { shellWord } from "./shell-word.js";

/**
 * `install` and `uninstall` as pure data: what the host's files hold now goes in, the exact file
 * changes and commands come out. The executor applies them (as root, through one sudo), `--dry-run`
 * prints them, tests check them for every platform.
 */

// No ";" here: Nix splits machines files on ";" as well as on newlines.
const COMMENT = "managed by `linux-builder install`, removed by `linux-builder uninstall`";

export interface BuilderKeys {
  readonly privateKey: string;
  readonly publicKey: string;
}

function daemonStep(daemon: DaemonRestart): Step | string {
  const why = "restart the Nix daemon so it reads the new configuration";
  if (daemon.kind === "command") return { kind: "command", argv: [...daemon.argv], why };
  return `Restart the Nix daemon yourself so it reads the new configuration (${daemon.why}).`;
}

export interface InstallRequest {
  readonly port: number;
  readonly entry: Omit<BuilderEntry, "alias" | "identityFile">;
  readonly keys: BuilderKeys;
  /** This install's private key in its state folder, for the commands a refusal prints. */
  readonly stateKeyFile?: string;
  /** The OS service that runs `serve`: set up, or removed; absent, it is left as it is (`run` installs). */
  readonly service?: ServiceRequest;
}

/** The plan's steps in the order they run, the Nix daemon restarted when Nix's files changed. */
function finish(plan: PlanBuilder, state: HostState, nixChanged: boolean): Plan {
  if (nixChanged) {
    const restart = daemonStep(state.daemon);
    if (typeof restart === "string") plan.notes.push(restart);
    else plan.steps.push(restart);
  }
  return { steps: inRunOrder(plan.steps), notes: plan.notes };
}

/** The builders installed from the same state folder (the same key) on other ports: a port changed since. */
function samePublicKey(state: HostState, port: number, publicKey: string | undefined): boolean {
  if (publicKey === undefined) return false;
  const installed = fileContent(state, installedPaths(state, port).publicKey);
  return installed !== undefined && installed.trim() === publicKey.trim();
}

/**
 * Removes one builder's own files and machines block (into `machines`, returned): its key only when it
 * is `ourPublicKey`'s (or that is unknown), its ssh alias only when install wrote it.
 */
function removeBuilder(
  plan: PlanBuilder,
  state: HostState,
  port: number,
  ourPublicKey: string | undefined,
  machines: string,
): string {
  const paths = installedPaths(state, port);
  const sshConfig = fileContent(state, paths.sshConfig);
  if (sshConfig?.includes(COMMENT)) plan.restoreOrRemove(paths.sshConfig);
  else if (sshConfig !== undefined)
    plan.notes.push(`${paths.sshConfig} was not written by install: it stays.`);
  const installedPublicKey = fileContent(state, paths.publicKey);
  if (installedPublicKey !== undefined) {
    if (ourPublicKey !== undefined && installedPublicKey.trim() !== ourPublicKey.trim()) {
      plan.notes.push(`${paths.key} is not this install's key: it stays.`);
    } else {
      plan.restoreOrRemove(paths.key, { secret: true });
      plan.restoreOrRemove(paths.publicKey);
    }
  }
  return withoutBlock(machines, paths.alias);
}

export function planInstall(state: HostState, request: InstallRequest): Plan {
  const paths = installedPaths(state, request.port);
  // The key's path is a field of the machines line, which Nix splits at white space and ';' and
  // cuts at '#': such a path would leave Nix with a machines file it reads wrongly.
  if (/[\s;#]/.test(paths.key)) {
    throw new LinuxBuilderError(
      "install.path",
      `Cannot install into ${state.nixConfDir}: the builder's key would be ${paths.key}, and Nix's machines file cannot hold a path with white space, ';' or '#'; nothing was changed`,
      { hint: "Use a Nix configuration folder without them (--nix-conf-dir)." },
    );
  }
  const determinate = includesCustomConf(fileContent(state, paths.nixConf));
  const settingsFile = determinate ? paths.customNixConf : paths.nixConf;
  checkBuildersSetting(state, paths.nixConf, paths.machines);
  checkMachinesFile(paths.machines, fileContent(state, paths.machines), state.nixVersion);
  // Adding our block again beside a BEGIN that lost its END would leave a file no one can undo.
  for (const [file, id] of [
    [paths.machines, paths.alias],
    [paths.nixConf, NIX_CONF_BLOCK],
    [paths.customNixConf, NIX_CONF_BLOCK],
  ] as const) {
    if (hasDamagedBlock(fileContent(state, file) ?? "", id)) {
      throw new LinuxBuilderError(
        "install.damaged-block",
        `${damagedBlock(state, file)} Nothing was changed`,
        {
          hint: `Delete the lines from \`# BEGIN ${id}\` to where the block ended, then run install again.`,
        },
      );
    }
  }
  const plan = new PlanBuilder(state);
  plan.ensureFolder(state.nixConfDir, 0o755, { marker: true });

  // The key goes where the Nix daemon (root) reads it; rewritten only when it is not this install's.
  if (!samePublicKey(state, request.port, request.keys.publicKey)) {
    plan.write(paths.key, request.keys.privateKey, 0o600, {
      touched: false,
      extra: { exactMode: true, secret: true, ...(state.nixbldGroup ? { group: "nixbld" } : {}) },
    });
    plan.write(paths.publicKey, `${request.keys.publicKey.trim()}\n`, 0o644, {
      touched: false,
      extra: { exactMode: true },
    });
  }
  // This builder on another port (its port changed since): it moves, so one uninstall removes it all.
  let machines = fileContent(state, paths.machines) ?? "";
  const touchedMachines = ourBlocks(machines).length > 0;
  const movedFrom = installedPorts(machines).filter(
    (port) => port !== request.port && samePublicKey(state, port, request.keys.publicKey),
  );
  for (const port of movedFrom) machines = removeBuilder(plan, state, port, request.keys.publicKey, machines);
  const line = machinesLine({ ...request.entry, alias: paths.alias, identityFile: paths.key });
  plan.write(paths.machines, withBlock(machines, paths.alias, [line], COMMENT), 0o644, {
    touched: touchedMachines,
  });
  const nixConfLines = ["builders-use-substitutes = true"];
  for (const file of [paths.nixConf, paths.customNixConf]) {
    const text = fileContent(state, file);
    if (file !== settingsFile && text !== undefined && hasBlock(text, NIX_CONF_BLOCK)) {
      plan.unblock(file, withoutBlock(text, NIX_CONF_BLOCK)); // Moved: Determinate came since.
    }
  }
  const settings = fileContent(state, settingsFile);
  plan.write(settingsFile, withBlock(settings ?? "", NIX_CONF_BLOCK, nixConfLines, COMMENT), 0o644, {
    touched: hasBlock(settings ?? "", NIX_CONF_BLOCK),
  });

  const reuse = controlPathFits(paths.controlDir);
  // Only root may use it (a planted socket would answer for the builder); wholly ours.
  if (reuse) plan.ensureFolder(paths.controlDir, 0o700, { marker: false });
  else {
    plan.notes.push(
      `${paths.controlDir} is too long a path for ssh's connection-reuse sockets: each build opens its own connection.`,
    );
  }
  plan.ensureFolder(state.sshConfigDir, 0o755, { marker: true });
  const sshConfig = `# ${COMMENT}\n${sshConfigBlock({
    alias: paths.alias,
    port: request.port,
    identityFile: paths.key,
    ...(reuse ? { controlDir: paths.controlDir } : {}),
  })}`;
  const currentSshConfig = fileContent(state, paths.sshConfig);
  plan.write(paths.sshConfig, sshConfig, 0o644, { touched: currentSshConfig?.includes(COMMENT) === true });

  checkWritable(state, plan.steps, () => {
    const entry = { ...request.entry, alias: paths.alias, identityFile: paths.key };
    return {
      lines: [
        `${paths.machines}: ${line}`,
        `${settingsFile}: ${nixConfLines.join("; ")}`,
        `${paths.sshConfig}: Host ${paths.alias} / HostName 127.0.0.1 / Port ${request.port} / HostKeyAlias ${paths.alias} / User builder / IdentityFile ${paths.key}`,
      ],
      ...(state.manager === "unknown"
        ? {}
        : {
            snippet: declarativeSnippet({
              manager: state.manager,
              entry,
              port: request.port,
              sshConfigPath: paths.sshConfig,
              ...(reuse ? { controlDir: paths.controlDir } : {}),
            }),
          }),
      commands: [
        `sudo install -m 600 ${request.stateKeyFile === undefined ? "BUILDER_KEY" : shellWord(request.stateKeyFile)} ${shellWord(paths.key)}`,
        ...(reuse ? [`sudo mkdir -m 700 ${shellWord(paths.controlDir)}`] : []),
      ],
    };
  });
  if (!sshIncludesDir(state.systemSshConfig, paths.sshConfig)) {
    plan.notes.push(
      `/etc/ssh/ssh_config does not include ${paths.sshConfig}: add \`Include ${state.sshConfigDir}/*.conf\` at its top, or ssh will not know the host ${paths.alias}.`,
    );
  }
  const nixChanged = plan.steps.length > 0;
  // Its service, named after the old port's alias, would serve the old port.
  for (const port of movedFrom) planServiceRemoval(plan, state, installedPaths(state, port).alias);
  if (request.service?.kind === "install") planService(plan, state, request.service.definition);
  // --no-service: a service an earlier install set up would keep serve on the port with old settings.
  if (request.service?.kind === "remove") planServiceRemoval(plan, state, paths.alias);
  return finish(plan, state, nixChanged);
}

/**
 * Undoes install: our blocks come out (leaving the user's bytes as they were), files we created go,
 * files we replaced come back from their backups, folders we made go once empty. This builder is
 * removed from every port it is installed on (the ones whose key is `ourPublicKey`) and from `port`.
 */
export function planUninstall(state: HostState, port: number, ourPublicKey: string | undefined): Plan {
  const paths = installedPaths(state, port);
  const plan = new PlanBuilder(state);
  const current = fileContent(state, paths.machines);
  let machines = current ?? "";
  const ports = [
    port,
    ...installedPorts(current).filter((other) => other !== port && samePublicKey(state, other, ourPublicKey)),
  ];
  for (const each of ports) machines = removeBuilder(plan, state, each, ourPublicKey, machines);
  const otherBuilders = ourBlocks(machines).length > 0;
  if (hasDamagedBlock(machines, paths.alias)) plan.notes.push(damagedBlock(state, paths.machines));
  if (current !== undefined && machines !== current) plan.unblock(paths.machines, machines);
  // builders-use-substitutes stays while another of our builders is installed.
  if (!otherBuilders) {
    for (const file of [paths.nixConf, paths.customNixConf]) {
      const text = fileContent(state, file);
      if (text === undefined) continue;
      const restored = withoutBlock(text, NIX_CONF_BLOCK);
      if (restored !== text) plan.unblock(file, restored);
      if (hasDamagedBlock(restored, NIX_CONF_BLOCK)) plan.notes.push(damagedBlock(state, file));
    }
    // Only sockets live there; a reuse master still running exits when its socket goes.
    if (state.folders[paths.controlDir] !== undefined)
      plan.removeFolder(paths.controlDir, { recursive: true });
    plan.removeFolderIfOurs(state.sshConfigDir);
    plan.removeFolderIfOurs(state.nixConfDir);
  }
  checkWritable(state, plan.steps, () => ({ lines: [], commands: [] }));
  const nixChanged = plan.steps.length > 0;
  for (const each of ports) planServiceRemoval(plan, state, installedPaths(state, each).alias);
  return finish(plan, state, nixChanged);
}
