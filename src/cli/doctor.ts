import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Command } from "commander";
import type { Config } from "../config/config.js";
import { type Paths, resolvePaths } from "../config/paths.js";
import { parseNixVersion } from "../dotted-version.js";
import { isLinuxBuilderError } from "../errors.js";
import { guestCas, hostCaDeps } from "../host/ca-certificates.js";
import { sshIncludesDir } from "../host/config-includes.js";
import { type CheckBuildFacts, checkBuild, diagnoseBuildFailure } from "../host/doctor/build.js";
import { checkBuilder } from "../host/doctor/builder.js";
import { checkBuildersSetting } from "../host/doctor/builders-setting.js";
import { checkCaCertificates } from "../host/doctor/ca-certificates.js";
import type { Check } from "../host/doctor/check.js";
import { formatChecks, worstStatus } from "../host/doctor/format.js";
import { checkHost } from "../host/doctor/host.js";
import { checkInstalledKey, checkStateKeys } from "../host/doctor/keys.js";
import { checkMachinesFile, checkMachinesPin } from "../host/doctor/machines.js";
import {
  checkNix,
  checkTrustedUser,
  machinesMention,
  type NixRoute,
  nixRoute,
  parseNixConfig,
  settingList,
  trustedVia,
} from "../host/doctor/nix.js";
import { checkPort } from "../host/doctor/port.js";
import { type AccelFacts, checkAccel, checkQemu } from "../host/doctor/qemu.js";
import { checkKnownHosts, checkSshAlias, parseSshG } from "../host/doctor/ssh.js";
import { currentHost, hostKindOf } from "../host/host.js";
import { DEFAULT_NIX_CONF_DIR, DEFAULT_SSH_CONFIG_DIR, installedPaths } from "../host/installed-paths.js";
import { hostIo } from "../host/platform/io.js";
import { nixDaemonRestartHint, platformOf } from "../host/platform/platform.js";
import {
  buildersText,
  clientBuilderSettings,
  nixConfBuilderSettings,
} from "../host/probe/builders-settings.js";
import { runCheckBuild } from "../host/probe/check-build.js";
import { fileFacts, readFileText, readOptional, samePaths } from "../host/probe/files.js";
import { readMachinesFiles } from "../host/probe/machines.js";
import { currentUser, nixConfigJson, nixRouteFacts } from "../host/probe/nix.js";
import { portListeners, probePort } from "../host/probe/port.js";
import { guestKernel, sshEffectiveConfig } from "../host/probe/ssh.js";
import { runTool, type ToolResult } from "../host/tool.js";
import { ARCHITECTURES } from "../image/guest/profile.js";
import { ImageStore } from "../image/store.js";
import { readInstance } from "../vm/instance.js";
import { runningPid } from "../vm/lifecycle/pidfile.js";
import { isReady } from "../vm/lifecycle/readiness.js";
import { chooseAccel } from "../vm/qemu/accel.js";
import { hostForwardAddress } from "../vm/qemu/argv.js";
import { qemuBackend } from "../vm/qemu/backend.js";
import { type StateLayout, stateLayout } from "../vm/state.js";
import { stderrIsTty } from "./output.js";
import { addConfigFlags, type ConfigFlags, loadConfig } from "./vm.js";

const SYSTEM_SSH_CONFIG = "/etc/ssh/ssh_config";

interface DoctorFlags extends ConfigFlags {
  json?: boolean;
  build: boolean;
  nixConfDir?: string;
  sshConfigDir?: string;
}

const hostPlatform = hostKindOf(process.platform);

function progress(message: string, flags: DoctorFlags): void {
  // Some checks take seconds (a KVM probe boot, a build): say so on a terminal.
  if (!flags.json && stderrIsTty()) process.stderr.write(`${message}\n`);
}

/** The settings, or the check that says why they cannot be read (the rest needs them). */
async function configCheck(paths: Paths, flags: DoctorFlags): Promise<{ config?: Config; check: Check }> {
  try {
    const config = await loadConfig(paths, flags);
    const file = await readOptional(paths.config);
    return {
      config,
      check: {
        name: "config",
        status: "ok",
        detail: file === undefined ? `defaults (no ${paths.config})` : paths.config,
      },
    };
  } catch (error) {
    if (!isLinuxBuilderError(error)) throw error;
    return {
      check: {
        name: "config",
        status: "fail",
        detail: error.message,
        ...(error.hint === undefined ? {} : { fix: error.hint }),
      },
    };
  }
}

async function nixChecks(
  nixConfDir: string,
  flags: DoctorFlags,
  alias: string,
): Promise<{
  checks: Check[];
  route: NixRoute;
  daemonBuilder: boolean;
  trusted: boolean;
  version: number[] | undefined;
}> {
  const nixVersionResult = await runTool("nix", ["--version"]);
  const nix = checkNix(nixVersionResult);
  const config = await nixConfigJson(
    currentHost(),
    flags.nixConfDir ?? process.env.NIX_CONF_DIR ?? DEFAULT_NIX_CONF_DIR,
  );
  let builders: unknown;
  let trustedUsers: string[] = [];
  if (config.kind === "ran") {
    try {
      const settings = parseNixConfig(config.stdout);
      builders = settings.get("builders");
      trustedUsers = settingList(settings.get("trusted-users"));
    } catch {
      // checkTrustedUser reports the unreadable settings.
    }
  }
  // Nix's default is @<conf dir>/machines; install adds our line there.
  const daemonBuilder = machinesMention(
    await buildersText(builders ?? `@${join(nixConfDir, "machines")}`),
    alias,
  );
  const route = nixRoute(await nixRouteFacts(currentHost()));
  const user = await currentUser();
  const trusted = checkTrustedUser({
    user,
    config,
    route,
    daemonBuilder,
    nixConf: join(nixConfDir, "nix.conf"),
    restartDaemon: nixDaemonRestartHint(currentHost().kind),
  });
  return {
    checks: [nix, trusted],
    route,
    daemonBuilder,
    trusted: trustedVia(user, trustedUsers) !== undefined,
    version: nixVersionResult.kind === "ran" ? parseNixVersion(nixVersionResult.stdout) : undefined,
  };
}

async function accelFacts(
  paths: Paths,
  config: Config,
  layout: StateLayout,
  qemu: Check,
): Promise<AccelFacts> {
  if (qemu.status === "fail") {
    // A probe without QEMU would fail, and be remembered as "KVM does not work".
    return { kind: "skipped", reason: "not checked: QEMU is missing" };
  }
  const store = new ImageStore(paths.images);
  const id = await store.currentId(config.arch);
  const image = id === undefined ? undefined : await store.get(id).catch(() => undefined);
  if (image === undefined) {
    return {
      kind: "skipped",
      reason: `no ${config.arch} image yet, whose kernel the probe boots`,
      fix: "Run `linux-builder image build` (`linux-builder start` also makes one).",
    };
  }
  try {
    // chooseAccel remembers its probe in the state dir, as `start` does.
    await mkdir(layout.dir, { recursive: true, mode: 0o700 });
    const auto = await chooseAccel(currentHost(), {
      requested: "auto",
      arch: config.arch,
      qemu: ARCHITECTURES[config.arch].qemu,
      kernel: join(image.directory, "kernel"),
      kernelId: image.manifest.id,
      cacheFile: join(layout.dir, "accel.json"),
    });
    const hv = await platformOf(currentHost().kind).hypervisorSupport(hostIo);
    return {
      kind: "chosen",
      requested: config.accel,
      auto: auto.warning === undefined ? { accel: auto.accel } : { accel: auto.accel, warning: auto.warning },
      ...(hv === undefined ? {} : { hvSupport: hv }),
    };
  } catch (error) {
    return { kind: "skipped", reason: `cannot probe: ${(error as Error).message}` };
  }
}

async function runChecks(flags: DoctorFlags): Promise<Check[]> {
  const paths = resolvePaths(currentHost());
  const checks: Check[] = [checkHost(await platformOf(currentHost().kind).system(currentHost(), hostIo))];
  const { config, check } = await configCheck(paths, flags);
  checks.push(check);
  if (config === undefined) return checks;

  const layout = stateLayout(config.stateDir);
  const nixConfDir = flags.nixConfDir ?? DEFAULT_NIX_CONF_DIR;
  const sshConfigDir = flags.sshConfigDir ?? DEFAULT_SSH_CONFIG_DIR;
  const pid = await runningPid(layout, qemuBackend(currentHost(), layout));
  const instance = pid === undefined ? undefined : await readInstance(layout);
  const builderPort = instance?.port ?? config.port;

  const nix = await nixChecks(
    nixConfDir,
    flags,
    installedPaths({ nixConfDir, sshConfigDir }, config.port).alias,
  );
  checks.push(...nix.checks);

  checks.push(
    checkCaCertificates(
      await guestCas(config.caCertificates, hostCaDeps(currentHost())).catch((error: unknown) => {
        if (!isLinuxBuilderError(error)) throw error;
        return { error };
      }),
    ),
  );

  const qemuCommand = ARCHITECTURES[config.arch].qemu;
  const qemu = checkQemu({
    command: qemuCommand,
    result: await runTool(qemuCommand, ["--version"]),
    platform: hostPlatform,
    arch: config.arch,
  });
  checks.push(qemu);
  progress("Checking the accelerator (a probe boot the first time)…", flags);
  checks.push(checkAccel(await accelFacts(paths, config, layout, qemu)));

  const probe = await probePort(hostForwardAddress(hostPlatform, config.port), config.port);
  checks.push(
    checkPort({
      port: config.port,
      hostPlatform,
      probe,
      listeners: probe === "in-use" ? await portListeners(config.port) : [],
      builder: pid === undefined ? undefined : { pid, port: instance?.port },
    }),
  );

  const uid = process.getuid?.() ?? -1;
  checks.push(
    checkStateKeys({
      dir: join(layout.dir, "keys"),
      privateKeys: [await fileFacts(layout.builderKey), await fileFacts(layout.hostKey)],
      publicKeys: [await fileFacts(layout.builderPublicKey), await fileFacts(layout.hostPublicKey)],
      uid,
    }),
  );
  const installed = installedPaths({ nixConfDir, sshConfigDir }, config.port);
  const statePublicKey = await readOptional(layout.builderPublicKey);
  checks.push(
    checkInstalledKey({
      key: await fileFacts(installed.key),
      installedPublicKey: await readOptional(installed.publicKey),
      statePublicKey,
    }),
  );
  const system = ARCHITECTURES[config.arch].nixSystem;
  const daemonChecks = await daemonSideChecks({
    config,
    layout,
    installed,
    nix,
    system,
    nixVersion: nix.version,
  });
  checks.push(...daemonChecks);

  const ready = pid !== undefined && (await isReady(layout, builderPort));
  checks.push(
    checkBuilder({
      pid,
      port: instance?.port,
      configuredPort: config.port,
      accel: instance?.accel,
      uptimeSeconds:
        instance === undefined ? undefined : Math.round((Date.now() - Date.parse(instance.startedAt)) / 1000),
      ready,
    }),
  );

  if (flags.build) {
    let facts: CheckBuildFacts;
    if (!ready) {
      facts = {
        kind: "skipped",
        reason: "not run: the builder is not ready",
        fix: "`linux-builder start`, then run doctor again.",
      };
    } else if (nix.route === "daemon" && !nix.daemonBuilder) {
      facts = {
        kind: "skipped",
        reason: "not run: Nix builds through its daemon here, and the daemon has no linux-builder entry",
        fix: "Run `linux-builder install`.",
      };
    } else {
      progress("Building a trivial derivation through the builder, as the Nix daemon would…", flags);
      const kernel = await guestKernel(layout, builderPort);
      // Root's ssh (no daemon): whether it will reuse a connection it has open (a user cannot ask root's).
      const reusedConnection =
        nix.route === "local" && process.getuid?.() === 0
          ? (await runTool("ssh", ["-O", "check", installed.alias])).kind === "ran"
          : undefined;
      const built = await runCheckBuild(currentHost(), {
        route: nix.route,
        nixConfDir,
        system,
        timeoutMs: 300_000,
      });
      if (built.kind === "failed") {
        const diagnosis = diagnoseBuildFailure(built.output, {
          machines: installed.machines,
          sshConfig: installed.sshConfig,
          systemSshConfig: SYSTEM_SSH_CONFIG,
          key: installed.key,
          alias: installed.alias,
          system,
        });
        facts = { kind: "failed", message: built.message, ...(diagnosis === undefined ? {} : { diagnosis }) };
      } else {
        facts =
          kernel.kind !== "ran"
            ? { kind: "failed", message: "cannot ask the builder for its kernel over ssh" }
            : {
                ...built,
                guestKernel: kernel.stdout,
                ...(reusedConnection === undefined ? {} : { reusedConnection }),
              };
      }
    }
    checks.push(
      checkBuild(
        facts,
        daemonChecks.filter((c) => c.status === "fail"),
      ),
    );
  }
  return checks;
}

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
async function daemonSideChecks(options: {
  config: Config;
  layout: StateLayout;
  installed: ReturnType<typeof installedPaths>;
  nix: { route: NixRoute; trusted: boolean };
  system: string;
  nixVersion: number[] | undefined;
}): Promise<Check[]> {
  const { layout, installed, nix, system } = options;
  const checks: Check[] = [];
  const machinesFiles = await readMachinesFiles(currentHost(), installed.machines);
  checks.push(checkMachinesFile({ ...machinesFiles, nixVersion: options.nixVersion }));
  checks.push(
    checkBuildersSetting({
      machinesPath: installed.machines,
      machinesPaths: await samePaths(installed.machines),
      daemon: await nixConfBuilderSettings(currentHost(), installed.nixConf),
      client: await clientBuilderSettings(currentHost()),
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
      system,
      keyPath: installed.key,
      hostPublicKey,
      hostPublicKeyPath: layout.hostPublicKey,
    }),
  );
  const systemConfig = await readFileText(currentHost(), SYSTEM_SSH_CONFIG);
  const effective = await sshEffectiveConfig(currentHost(), installed.alias, SYSTEM_SSH_CONFIG);
  checks.push(
    checkSshAlias({
      path: installed.sshConfig,
      content: await readFileText(currentHost(), installed.sshConfig),
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
    join(platformOf(currentHost().kind).rootHome, ".ssh", "known_hosts"),
    join(platformOf(currentHost().kind).rootHome, ".ssh", "known_hosts2"),
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
            content: await readFileText(currentHost(), path),
          })),
        )),
        ...(await Promise.all(
          globalFiles.map(async (path) => ({
            path,
            kind: "global" as const,
            content: await readFileText(currentHost(), path),
          })),
        )),
      ],
    }),
  );
  return checks;
}

async function doctor(flags: DoctorFlags): Promise<number> {
  const checks = await runChecks(flags);
  const status = worstStatus(checks);
  if (flags.json) {
    process.stdout.write(`${JSON.stringify({ ok: status !== "fail", status, checks }, null, 2)}\n`);
  } else {
    process.stdout.write(formatChecks(checks));
  }
  return status === "fail" ? 1 : 0;
}

export function registerDoctorCommand(program: Command): void {
  addConfigFlags(
    program
      .command("doctor")
      .description("check the host, the builder and a real build through it; exits 1 when a check fails"),
  )
    .option("--json", "print the checks as JSON")
    .option("--no-build", "skip the check build through the builder")
    .option(
      "--nix-conf-dir <dir>",
      `where \`install\` put the builder's key and machines line (default ${DEFAULT_NIX_CONF_DIR})`,
    )
    .option(
      "--ssh-config-dir <dir>",
      `where \`install\` put the ssh alias (default ${DEFAULT_SSH_CONFIG_DIR}; ssh reads it only when ${SYSTEM_SSH_CONFIG} includes it)`,
    )
    .action(async (flags: DoctorFlags) => {
      process.exitCode = await doctor(flags);
    });
}
