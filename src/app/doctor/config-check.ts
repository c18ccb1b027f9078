import type { Config } from "../../config/config.js";
import type { Paths } from "../../config/paths.js";
import { isLinuxBuilderError } from "../../errors.js";
import type { Check } from "../../host/doctor/check.js";
import { readOptional } from "../../host/probe/files.js";

/** The settings, or the check that says why they cannot be read (the rest needs them). */
export async function configCheck(
  paths: Paths,
  loadConfig: () => Promise<Config>,
): Promise<{ config?: Config; check: Check }> {
  try {
    const config = await loadConfig();
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
