import { indentLines } from "../indent.js";
import type { BuilderEntry } from "./builders.js";
import { pinnedHostKey, sshConfigBlock } from "./builders.js";

/**
 * What to put in a nix-darwin or NixOS configuration instead of the files `install` writes, for a
 * host whose /etc/nix files are links into the Nix store: writing them would be undone at the next
 * switch, so `install` refuses and prints this. Pure text.
 */

export type NixManager = "nix-darwin" | "nixos";

export interface SnippetRequest {
  readonly manager: NixManager;
  readonly entry: BuilderEntry;
  readonly port: number;
  /** The ssh_config.d file `install` would write (nix-darwin reads that folder; NixOS does not). */
  readonly sshConfigPath: string;
  /** Where ssh's reused connections live (none: no reuse). */
  readonly controlDir?: string;
}

const nixString = (text: string) => JSON.stringify(text);

export function declarativeSnippet(request: SnippetRequest): string {
  const { entry } = request;
  const ssh = sshConfigBlock({
    alias: entry.alias,
    port: request.port,
    identityFile: entry.identityFile,
    ...(request.controlDir === undefined ? {} : { controlDir: request.controlDir }),
  });
  const features = entry.supportedFeatures.map(nixString).join(" ");
  const machine = [
    "nix.distributedBuilds = true;",
    "nix.buildMachines = [",
    "  {",
    `    hostName = ${nixString(entry.alias)};`,
    `    protocol = "ssh-ng";`,
    `    sshUser = "builder";`,
    `    systems = [ ${entry.systems.map(nixString).join(" ")} ];`,
    `    sshKey = ${nixString(entry.identityFile)};`,
    `    maxJobs = ${entry.maxJobs};`,
    `    speedFactor = ${entry.speedFactor};`,
    `    supportedFeatures = [ ${features}${features === "" ? "" : " "}];`,
    `    publicHostKey = ${nixString(pinnedHostKey(entry.hostPublicKey))};`,
    "  }",
    "];",
    "nix.settings.builders-use-substitutes = true;",
  ];
  const sshOption =
    request.manager === "nix-darwin"
      ? `environment.etc.${nixString(request.sshConfigPath.replace(/^\/etc\//, ""))}.text = ''`
      : "programs.ssh.extraConfig = ''";
  return [...machine, sshOption, indentLines(ssh, "  "), "'';"].join("\n");
}
