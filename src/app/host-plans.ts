import { readFile } from "node:fs/promises";
import { isAbsolute, resolve } from "node:path";
import type { Config } from "../config/config.js";
import type { Host } from "../host/host.js";
import { readHostState } from "../host/host-state.js";
import { planInstall, planUninstall } from "../host/install-plan.js";
import type { Plan } from "../host/plan.js";
import { type ServiceRequest, serveCommandLine, serviceToSetUp } from "../host/plan-service.js";
import { builderNames } from "../nix/builders.js";
import type { InstalledService } from "../service/os/installed-service.js";
import type { ServiceDefinition } from "../service/os/service-definition.js";
import { ensureKeys, stateLayout } from "../vm/state.js";
import type { SelfCommand } from "./apply-host-plan.js";
import { builderSystems } from "./builder-systems.js";

/** Where install writes: its --nix-conf-dir and --ssh-config-dir. */
export interface HostDirs {
  readonly nixConfDir: string;
  readonly sshConfigDir: string;
}

/** How install's service runs serve: this program, with the builder flags install was given. */
export interface ServeCommand {
  readonly self: SelfCommand;
  /** The builder flags given on install's command line, as serve takes them. */
  readonly flags: readonly string[];
}

/** Where launchd's default PATH (/usr/bin:/bin:/usr/sbin:/sbin) is all there is. */
const BARE_PATH = "/usr/bin:/bin:/usr/sbin:/sbin";

/** The variables that choose linux-builder's folders (paths.ts), passed on so serve finds the same ones. */
const FOLDER_VARIABLES = ["XDG_CONFIG_HOME", "XDG_STATE_HOME", "XDG_DATA_HOME", "XDG_CACHE_HOME"] as const;

/**
 * The service that runs `serve` as this user with this install's settings: the same program, the
 * flags install was given, the folders install used (HOME, LINUX_BUILDER_HOME, XDG_*), and install's
 * PATH (where qemu-system-* and ssh were found: Homebrew's are not on launchd's PATH).
 */
export function serviceDefinition(host: Host, config: Config, serve: ServeCommand): ServiceDefinition {
  const environment: Record<string, string> = { HOME: host.home, PATH: host.env.PATH || BARE_PATH };
  const home = host.env.LINUX_BUILDER_HOME;
  if (home !== undefined && home !== "") environment.LINUX_BUILDER_HOME = resolve(host.cwd, home);
  for (const name of FOLDER_VARIABLES) {
    const value = host.env[name];
    if (value !== undefined && isAbsolute(value)) environment[name] = value;
  }
  const stateDir = resolve(host.cwd, config.stateDir);
  return {
    alias: builderNames(config.port).alias,
    user: host.user,
    argv: [serve.self.node, serve.self.script, "serve", ...serve.flags],
    environment,
    stateDir,
    logFile: stateLayout(stateDir).serviceLog,
  };
}

/**
 * The host-side plan that delegates builds to this builder; with `serve`, the OS service that runs
 * it too, with "none" the service an earlier install set up removed, without either (run's
 * install) the service left as it is.
 */
export async function installPlan(
  host: Host,
  config: Config,
  dirs: HostDirs,
  serve?: ServeCommand | "none",
): Promise<Plan> {
  return (await planHostInstall(host, config, dirs, serve)).plan;
}

/** install's plan, and the service that runs serve once it is applied (none: no manager, or --no-service). */
export async function planHostInstall(
  host: Host,
  config: Config,
  dirs: HostDirs,
  serve?: ServeCommand | "none",
): Promise<{
  readonly plan: Plan;
  readonly service?: InstalledService;
  /** `linux-builder serve …` as the user would run it, when install sets the service up. */
  readonly serveCommand?: string;
}> {
  const layout = stateLayout(config.stateDir);
  const keys = await ensureKeys(layout);
  const state = await readHostState(host, dirs, config.port);
  const service: ServiceRequest | undefined =
    serve === undefined
      ? undefined
      : serve === "none"
        ? { kind: "remove" }
        : { kind: "install", definition: serviceDefinition(host, config, serve) };
  const plan = planInstall(state, {
    ...(service === undefined ? {} : { service }),
    port: config.port,
    entry: {
      systems: builderSystems(config),
      maxJobs: config.maxJobs,
      speedFactor: config.speedFactor,
      supportedFeatures: config.supportedFeatures,
      hostPublicKey: keys.hostPublicKey,
    },
    keys: { privateKey: await readFile(layout.builderKey, "utf8"), publicKey: keys.builderPublicKey },
    stateKeyFile: layout.builderKey,
  });
  if (service?.kind !== "install") return { plan };
  const runs = serviceToSetUp(state, builderNames(config.port).alias);
  return {
    plan,
    ...(runs === undefined ? {} : { service: runs }),
    serveCommand: serveCommandLine(service.definition),
  };
}

/** The plan that undoes `install` exactly (only what this builder's key installed). */
export async function uninstallPlan(host: Host, config: Config, dirs: HostDirs): Promise<Plan> {
  const layout = stateLayout(config.stateDir);
  const ourPublicKey = await readFile(layout.builderPublicKey, "utf8").catch(() => undefined);
  return planUninstall(await readHostState(host, dirs, config.port), config.port, ourPublicKey);
}
