import { readFile } from "node:fs/promises";
import type { Config } from "../config/config.js";
import type { Host } from "../host/host.js";
import { readHostState } from "../host/host-state.js";
import { planInstall, planUninstall } from "../host/install-plan.js";
import type { Plan } from "../host/plan.js";
import { ARCHITECTURES } from "../image/guest/profile.js";
import { ensureKeys, stateLayout } from "../vm/state.js";

/** Where install writes: its --nix-conf-dir and --ssh-config-dir. */
export interface HostDirs {
  readonly nixConfDir: string;
  readonly sshConfigDir: string;
}

/** The host-side plan that delegates builds to this builder. */
export async function installPlan(host: Host, config: Config, dirs: HostDirs): Promise<Plan> {
  const layout = stateLayout(config.stateDir);
  const keys = await ensureKeys(layout);
  const state = await readHostState(host, dirs, config.port);
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

/** The plan that undoes `install` exactly (only what this builder's key installed). */
export async function uninstallPlan(host: Host, config: Config, dirs: HostDirs): Promise<Plan> {
  const layout = stateLayout(config.stateDir);
  const ourPublicKey = await readFile(layout.builderPublicKey, "utf8").catch(() => undefined);
  return planUninstall(await readHostState(host, dirs, config.port), config.port, ourPublicKey);
}
