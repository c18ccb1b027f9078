import { LinuxBuilderError } from "../errors.js";
import { type Plan, planSchema } from "../host/plan.js";

const RUN_BY_INSTALL =
  "It is run by `linux-builder install` and `uninstall` through sudo, not by hand: run one of those.";

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
      { hint: RUN_BY_INSTALL },
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

/** Reading a plan from a terminal: nobody types one. */
export function planFromTerminalError(): LinuxBuilderError {
  return new LinuxBuilderError("install.plan", "apply-host-plan reads a plan on its standard input", {
    hint: RUN_BY_INSTALL,
  });
}
