/** Whether the `builders` settings (the daemon's, the client's) let Nix read the machines file. */
import { builderFiles } from "../../nix/machines-file.js";
import type { SettingSource } from "../../nix/nix-conf.js";
import { type Check, check } from "./check.js";
import type { NixRoute } from "./nix.js";

/** Whether a `builders` value reads the machines file (one of its `@` entries is it). */
function readsMachines(value: string, machinesPaths: readonly string[]): boolean {
  return builderFiles(value).some((path) => machinesPaths.includes(path));
}

const where = (setting: SettingSource) =>
  setting.line > 0 ? `${setting.source} line ${setting.line}` : setting.source;

/**
 * Whether Nix's `builders` setting still reads the machines file. Its default is @CONF_DIR/machines;
 * a `builders =` line replaces it. The daemon reads nix.conf (and what it includes); a client's own
 * settings (~/.config/nix/nix.conf, NIX_CONFIG) reach the daemon when the user is trusted, and an
 * empty `builders` reaches it from anyone (nix's daemon.cc accepts that one from untrusted clients).
 * `extra-builders` is no setting: builders is a string, which Nix cannot append to.
 */
export function checkBuildersSetting(facts: {
  readonly machinesPath: string;
  /** Paths that are the machines file (its path as configured and resolved). */
  readonly machinesPaths: readonly string[];
  /** nix.conf and the files it includes, in the order Nix reads them: what the daemon reads. */
  readonly daemon: readonly SettingSource[];
  /** The user's own settings (user nix.conf files, NIX_CONFIG), in order. */
  readonly client: readonly SettingSource[];
  readonly route: NixRoute;
  readonly trusted: boolean;
}): Check {
  const name = "builders setting";
  const problems: string[] = [];
  const fixes: string[] = [];
  const last = (settings: readonly SettingSource[]) => settings.filter((s) => s.name === "builders").at(-1);
  const hides = (setting: SettingSource, who: string) => {
    problems.push(
      `\`builders = ${setting.value}\` (${where(setting)}) replaces Nix's default @${facts.machinesPath}: ${who} never reads the machines file`,
    );
    fixes.push(
      `in ${where(setting)}, add @${facts.machinesPath} to it (\`builders = @${facts.machinesPath}${setting.value === "" ? "" : ` ; ${setting.value}`}\`) or remove the line`,
    );
  };
  const daemonSetting = last(facts.daemon);
  if (daemonSetting !== undefined && !readsMachines(daemonSetting.value, facts.machinesPaths)) {
    hides(daemonSetting, facts.route === "daemon" ? "the Nix daemon" : "Nix");
  }
  const clientSetting = last(facts.client);
  if (clientSetting !== undefined && !readsMachines(clientSetting.value, facts.machinesPaths)) {
    if (facts.route === "local" || facts.trusted || clientSetting.value === "") {
      hides(clientSetting, facts.route === "local" ? "Nix" : "the daemon, for your builds,");
    }
  }
  const extra = [...facts.daemon, ...facts.client].filter((s) => s.name === "extra-builders");
  const extraNote =
    extra.length > 0
      ? `; ${extra.map(where).join(", ")}: \`extra-builders\` is not a Nix setting (Nix warns "unknown setting" and ignores it: builders cannot be appended to)`
      : "";
  if (problems.length > 0) {
    return check(
      name,
      "fail",
      `${problems.join("; ")}${extraNote}`,
      `${fixes.join("; ")}${facts.route === "daemon" ? "; then restart the Nix daemon" : ""}.`,
    );
  }
  if (extra.length > 0) {
    return check(
      name,
      "warn",
      extraNote.slice(2),
      `Remove it; put those builders in ${facts.machinesPath}, or in \`builders = @${facts.machinesPath} ; …\`.`,
    );
  }
  const used =
    clientSetting !== undefined && (facts.route === "local" || facts.trusted) ? clientSetting : daemonSetting;
  return check(
    name,
    "ok",
    used === undefined
      ? `Nix's default, @${facts.machinesPath}`
      : `\`builders = ${used.value}\` (${where(used)}) reads ${facts.machinesPath}`,
  );
}
