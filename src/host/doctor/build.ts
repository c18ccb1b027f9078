/** The real build through the builder, and what its failure says went wrong. */
import { type Check, check } from "./check.js";

/**
 * What a failed check build's output says went wrong, named by the file to fix. The patterns are
 * ssh's and Nix's own messages (seen here with OpenSSH 9.2 and Nix 2.8).
 */
export function diagnoseBuildFailure(
  output: string,
  files: {
    readonly machines: string;
    readonly sshConfig: string;
    readonly systemSshConfig: string;
    readonly key: string;
    readonly alias: string;
    readonly system: string;
  },
): { readonly cause: string; readonly fix: string; readonly generic?: boolean } | undefined {
  const install = "Run `linux-builder install` again.";
  // ssh's messages about another builder in the machines file are not this builder's.
  const aboutUs = output.includes(files.alias);
  if (aboutUs && /REVOKED HOST KEY|was revoked/.test(output)) {
    return {
      cause: "ssh found the builder's host key marked @revoked in a known_hosts file",
      fix: `Remove the \`@revoked ${files.alias}\` line (see the known hosts check).`,
    };
  }
  if (aboutUs && /REMOTE HOST IDENTIFICATION HAS CHANGED|Host key verification failed/.test(output)) {
    return {
      cause: `ssh refused the builder's host key: the key pinned in ${files.machines} is not the one the builder has`,
      fix: install,
    };
  }
  if (output.includes(`Could not resolve hostname ${files.alias}:`)) {
    return {
      cause: `ssh does not know ${files.alias}: ${files.sshConfig} is missing, or ${files.systemSshConfig} does not include it`,
      fix: `Add \`Include ${files.sshConfig.slice(0, files.sshConfig.lastIndexOf("/"))}/*.conf\` at the top of ${files.systemSshConfig}, and run \`linux-builder install\` again.`,
    };
  }
  if (/unix_listener: cannot bind to path/.test(output)) {
    return {
      cause: "ssh cannot make its connection-reuse socket (its ControlPath folder is missing)",
      fix: `${install} (it makes the folder)`,
    };
  }
  if (aboutUs && /Load key .*(Permission denied|No such file)|no such identity/i.test(output)) {
    return { cause: `ssh cannot read the key ${files.key}`, fix: install };
  }
  if (aboutUs && /Permission denied \(publickey/.test(output)) {
    return { cause: `the builder refused the key ${files.key}: it is not this builder's`, fix: install };
  }
  if (aboutUs && /Connection refused|Connection timed out/.test(output)) {
    return {
      cause: `nothing answered on the port ${files.sshConfig} names`,
      fix: "Is the builder running on that port? `linux-builder status`; else run `linux-builder install` again.",
    };
  }
  if (/bad machine specification/.test(output)) {
    return {
      cause: `Nix cannot read ${files.machines}`,
      fix: `Fix the line the machines file check names in ${files.machines}.`,
    };
  }
  if (
    new RegExp(`cannot (build on|open connection to remote store) 'ssh(-ng)?://builder@${files.alias}'`).test(
      output,
    )
  ) {
    // Through the daemon, ssh's own message goes to the daemon's log, not to the client.
    return {
      cause: `Nix could not connect to builder@${files.alias} (ssh's own message is in the Nix daemon's log when the daemon ran it)`,
      fix: "The Nix daemon's log says why: `journalctl -u nix-daemon` (Linux), /var/log/nix-daemon.log (macOS).",
      generic: true,
    };
  }
  if (
    /Failed to find a machine for remote build|unable to start any build|required system or feature not available/.test(
      output,
    )
  ) {
    return {
      cause: `Nix has no builder for ${files.system}: its builders setting does not read ${files.machines}, or no line there serves ${files.system}`,
      fix: "See the builders setting and machines line checks.",
      generic: true,
    };
  }
  return undefined;
}

/**
 * The derivation the check build builds: it records the kernel it ran on, and a nonce makes it new
 * each time, so Nix really builds it rather than finding it in a store.
 */
export function checkBuildExpression(system: string, nonce: string): string {
  const script = 'read r < /proc/sys/kernel/osrelease; echo "built on $r" > $out';
  return `derivation { name = "linux-builder-doctor"; system = ${JSON.stringify(system)}; builder = "/bin/sh"; args = [ "-c" ${JSON.stringify(script)} ]; nonce = ${JSON.stringify(nonce)}; }`;
}

export type CheckBuildFacts =
  | { readonly kind: "skipped"; readonly reason: string; readonly fix?: string }
  | {
      readonly kind: "failed";
      readonly message: string;
      /**
       * What the output says went wrong, and which file to fix (diagnoseBuildFailure); generic when
       * it cannot name the file (the failing checks before it then do).
       */
      readonly diagnosis?: { readonly cause: string; readonly fix: string; readonly generic?: boolean };
    }
  | {
      readonly kind: "built";
      /** What the output file says. */
      readonly output: string;
      readonly seconds: number;
      /** The builder's kernel (/proc/sys/kernel/osrelease there). */
      readonly guestKernel: string;
      /**
       * Whether ssh went through a connection it had open already (ControlMaster): the host key was
       * checked when that connection opened, not for this build.
       */
      readonly reusedConnection?: boolean;
    };

/**
 * The check build's verdict. `failing` are the static checks that failed before it (machines line,
 * ssh alias…): a failed build points at them, as they name the file to fix.
 */
export function checkBuild(facts: CheckBuildFacts, failing: readonly Check[] = []): Check {
  const name = "check build";
  if (facts.kind === "skipped") return check(name, "warn", facts.reason, facts.fix);
  if (facts.kind === "failed") {
    const cause = facts.diagnosis === undefined ? "" : `${facts.diagnosis.cause} (`;
    const seeAlso =
      failing.length > 0
        ? `See the failing ${failing.map((c) => c.name).join(", ")} check${failing.length === 1 ? "" : "s"} above. `
        : "";
    return check(
      name,
      "fail",
      `nix-build through the builder, as the Nix daemon runs it, failed: ${cause}${facts.message}${cause === "" ? "" : ")"}`,
      facts.diagnosis?.generic === true && failing.length > 0
        ? `${seeAlso.replace(/\. $/, ": it names the file to fix.")}`
        : facts.diagnosis !== undefined
          ? `${seeAlso}${facts.diagnosis.fix}`
          : `${seeAlso}\`linux-builder logs\` shows the builder's console; \`linux-builder ssh\` logs in to look.`,
    );
  }
  const built = /^built on (\S+)\s*$/.exec(facts.output)?.[1];
  if (built === undefined) {
    return check(
      name,
      "fail",
      `the output is not what the derivation writes: "${facts.output.trim().slice(0, 200)}"`,
    );
  }
  if (built !== facts.guestKernel.trim()) {
    return check(
      name,
      "fail",
      `it was built on kernel ${built}, not on the builder (kernel ${facts.guestKernel.trim()}): another builder took it`,
      "Check the builders in Nix's machines file: another one serves this system.",
    );
  }
  const reused = facts.reusedConnection
    ? " (through ssh's open connection: the host key was checked when it opened, up to a minute ago)"
    : "";
  return check(
    name,
    "ok",
    `built on the builder (kernel ${built}) in ${facts.seconds.toFixed(1)} s${reused}`,
  );
}
