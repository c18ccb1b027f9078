/** Whether the host's configuration reads the files install writes: ssh_config's Include, Determinate's nix.custom.conf. */
/** Whether ssh reads files in `dir`: the system ssh_config must Include them (Debian and macOS do). */
export function sshIncludesDir(systemSshConfig: string | undefined, file: string): boolean {
  if (systemSshConfig === undefined) return false;
  return systemSshConfig.split(/\r?\n/).some((line) => {
    const match = /^\s*Include\s+(.+?)\s*$/i.exec(line);
    if (!match) return false;
    return (match[1] ?? "").split(/\s+/).some((pattern) => globMatches(pattern, file));
  });
}

function globMatches(pattern: string, path: string): boolean {
  const regex = pattern
    .split("*")
    .map((part) => part.replace(/[.+?^${}()|[\]\\]/g, "\\$&"))
    .join("[^/]*");
  return new RegExp(`^${regex}$`).test(path);
}

/**
 * Determinate Nix writes its own /etc/nix/nix.conf (and rewrites it on upgrade), ending in
 * `!include nix.custom.conf` for the user's settings: ours go there.
 */
export function includesCustomConf(nixConf: string | undefined): boolean {
  return (
    nixConf !== undefined && /^[ \t]*!?include[ \t]+(?:\S*\/)?nix\.custom\.conf[ \t]*\r?$/m.test(nixConf)
  );
}
