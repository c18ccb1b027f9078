import { resolve } from "node:path";
import type { Config } from "../../config/config.js";
import type { Paths } from "../../config/paths.js";
import type { Check } from "../../host/doctor/check.js";
import { checkMachinesPin } from "../../host/doctor/machines.js";
import { checkPool } from "../../host/doctor/pool.js";
import type { Host } from "../../host/host.js";
import { installRegistryPath, readInstallRegistry } from "../../host/install-registry.js";
import { installedPaths } from "../../host/installed-paths.js";
import { readFileText, readOptional } from "../../host/probe/files.js";
import { stateLayout } from "../../vm/state.js";

/**
 * The pool beside the builder doctor checks: every other builder in the user's record of installs,
 * its machines line checked as the selected one's is (its systems, its key, its state folder's pin).
 */
export async function poolCheck(host: Host, paths: Paths, config: Config): Promise<Check | undefined> {
  const selectedDir = resolve(host.cwd, config.stateDir);
  const { builders } = await readInstallRegistry(installRegistryPath(paths));
  const others = [];
  for (const builder of builders.filter((recorded) => recorded.stateDir !== selectedDir)) {
    const installed = installedPaths(builder, builder.port);
    const hostPublicKeyPath = stateLayout(builder.stateDir).hostPublicKey;
    others.push({
      builder,
      machines: checkMachinesPin({
        path: installed.machines,
        content: await readFileText(host, installed.machines),
        alias: installed.alias,
        systems: builder.systems,
        keyPath: installed.key,
        hostPublicKey: await readOptional(hostPublicKeyPath),
        hostPublicKeyPath,
      }),
    });
  }
  return checkPool({ selected: { port: config.port, stateDir: selectedDir }, others });
}
