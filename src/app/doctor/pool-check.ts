import { stat } from "node:fs/promises";
import { resolve } from "node:path";
import type { Config } from "../../config/config.js";
import type { Paths } from "../../config/paths.js";
import { LinuxBuilderError } from "../../errors.js";
import type { Check } from "../../host/doctor/check.js";
import { checkMachinesPin } from "../../host/doctor/machines.js";
import { checkPool, unreadablePool } from "../../host/doctor/pool.js";
import type { Host } from "../../host/host.js";
import type { InstalledBuilder } from "../../host/install-registry.js";
import { installedPaths } from "../../host/installed-paths.js";
import { readFileText, readOptional } from "../../host/probe/files.js";
import { stateLayout } from "../../vm/state.js";
import { isSelectedBuilder, readInstalledRecord } from "../installed-builders.js";

/**
 * The pool beside the builder doctor checks: every other builder in the user's record of installs,
 * its machines line checked as the selected one's is (its systems, its key, its state folder's pin),
 * all at once. A record that cannot be read is a failing check of its own (doctor goes on).
 */
export async function poolCheck(host: Host, paths: Paths, config: Config): Promise<Check | undefined> {
  const selected = { port: config.port, stateDir: resolve(host.cwd, config.stateDir) };
  let builders: readonly InstalledBuilder[];
  try {
    builders = (await readInstalledRecord(paths)).builders;
  } catch (error) {
    if (!(error instanceof LinuxBuilderError) || error.code !== "install.registry") throw error;
    return unreadablePool(error.message, error.hint);
  }
  const others = await Promise.all(
    builders
      .filter((recorded) => !isSelectedBuilder(recorded, host, config))
      .map(async (builder) => {
        const installed = installedPaths(builder, builder.port);
        const hostPublicKeyPath = stateLayout(builder.stateDir).hostPublicKey;
        const [content, hostPublicKey, stateDirExists] = await Promise.all([
          readFileText(host, installed.machines),
          readOptional(hostPublicKeyPath),
          stat(builder.stateDir).then(
            () => true,
            () => false,
          ),
        ]);
        return {
          builder,
          stateDirMissing: !stateDirExists,
          machines: checkMachinesPin({
            path: installed.machines,
            content,
            alias: installed.alias,
            systems: builder.systems,
            keyPath: installed.key,
            hostPublicKey,
            hostPublicKeyPath,
          }),
        };
      }),
  );
  return checkPool({ selected, others });
}
