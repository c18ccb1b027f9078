import { join } from "node:path";
import type { Config } from "../../config/config.js";
import { sshIncludesDir } from "../../host/config-includes.js";
import { checkBuildersSetting } from "../../host/doctor/builders-setting.js";
import type { Check } from "../../host/doctor/check.js";
import { checkMachinesFile, checkMachinesPin } from "../../host/doctor/machines.js";
import type { NixRoute } from "../../host/doctor/nix.js";
import { checkKnownHosts, checkSshAlias, parseSshG } from "../../host/doctor/ssh.js";
import type { Host } from "../../host/host.js";
import type { installedPaths } from "../../host/installed-paths.js";
import { platformOf } from "../../host/platform/platform.js";
import { clientBuilderSettings, nixConfBuilderSettings } from "../../host/probe/builders-settings.js";
import { fileFacts, readFileText, readOptional, samePaths } from "../../host/probe/files.js";
import { readMachinesFiles } from "../../host/probe/machines.js";
import { sshEffectiveConfig } from "../../host/probe/ssh.js";
import type { ToolResult } from "../../host/tool.js";
import type { StateLayout } from "../../vm/state.js";

/** The system-wide ssh configuration, which must include the alias install writes. */
export const SYSTEM_SSH_CONFIG = "/etc/ssh/ssh_config";

/** Whether the folder of ssh's ControlPath for the alias exists (undefined: no reuse, or unknown). */
async function controlDirExists(effective: ToolResult): Promise<boolean | undefined> {
  if (effective.kind !== "ran") return undefined;
  const path = parseSshG(effective.stdout).get("controlpath")?.[0];
  if (path === undefined || path === "none") return undefined;
  const dir = path.slice(0, path.lastIndexOf("/"));
  const facts = await fileFacts(dir);
  return facts.stat !== undefined;
}

/**
 * What the Nix daemon (root) will use to reach the builder, read from the installed files, each
 * check naming the file to fix: the machines file as Nix parses it, the builders setting that must
 * still read it, this builder's line and its pinned host key, root's ssh alias, and other
 * known_hosts entries for the builder. Root-only files are reported as such, not as failures.
 */
export async function daemonSideChecks(options: {
  host: Host;
  config: Config;
  layout: StateLayout;
  installed: ReturnType<typeof installedPaths>;
  nix: { route: NixRoute; trusted: boolean };
  /** What the builder serves (native, then emulated), which its machines line must list. */
  systems: readonly string[];
  nixVersion: number[] | undefined;
}): Promise<Check[]> {
  const { host, layout, installed, nix, systems } = options;
  const checks: Check[] = [];
  const machinesFiles = await readMachinesFiles(host, installed.machines);
  checks.push(checkMachinesFile({ ...machinesFiles, nixVersion: options.nixVersion }));
  checks.push(
    checkBuildersSetting({
      machinesPath: installed.machines,
      machinesPaths: await samePaths(installed.machines),
      daemon: await nixConfBuilderSettings(host, installed.nixConf),
      client: await clientBuilderSettings(host),
      route: nix.route,
      trusted: nix.trusted,
    }),
  );
  const machines = machinesFiles.files[0]?.content ?? { kind: "missing" as const };
  const hostPublicKey = await readOptional(layout.hostPublicKey);
  checks.push(
    checkMachinesPin({
      path: installed.machines,
      content: machines,
      alias: installed.alias,
      systems,
      keyPath: installed.key,
      hostPublicKey,
      hostPublicKeyPath: layout.hostPublicKey,
    }),
  );
  const systemConfig = await readFileText(host, SYSTEM_SSH_CONFIG);
  const effective = await sshEffectiveConfig(host, installed.alias, SYSTEM_SSH_CONFIG);
  checks.push(
    checkSshAlias({
      path: installed.sshConfig,
      content: await readFileText(host, installed.sshConfig),
      systemConfigPath: SYSTEM_SSH_CONFIG,
      systemConfig,
      included: sshIncludesDir(
        systemConfig.kind === "text" ? systemConfig.text : undefined,
        installed.sshConfig,
      ),
      effective,
      alias: installed.alias,
      port: options.config.port,
      keyPath: installed.key,
      controlDirExists: await controlDirExists(effective),
    }),
  );
  const globalFiles = (effective.kind === "ran"
    ? parseSshG(effective.stdout).get("globalknownhostsfile")?.[0]?.split(/\s+/)
    : undefined) ?? ["/etc/ssh/ssh_known_hosts", "/etc/ssh/ssh_known_hosts2"];
  const userFiles = [
    join(platformOf(host.kind).rootHome, ".ssh", "known_hosts"),
    join(platformOf(host.kind).rootHome, ".ssh", "known_hosts2"),
  ];
  checks.push(
    checkKnownHosts({
      alias: installed.alias,
      port: options.config.port,
      pinnedKey: hostPublicKey?.trim().split(/\s+/).slice(0, 2).join(" "),
      files: [
        ...(await Promise.all(
          userFiles.map(async (path) => ({
            path,
            kind: "user" as const,
            content: await readFileText(host, path),
          })),
        )),
        ...(await Promise.all(
          globalFiles.map(async (path) => ({
            path,
            kind: "global" as const,
            content: await readFileText(host, path),
          })),
        )),
      ],
    }),
  );
  return checks;
}
