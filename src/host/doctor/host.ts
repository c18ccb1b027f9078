/** The host check: the OS, and on macOS whether it is recent enough. */
import { compareVersions, parseVersion } from "../../dotted-version.js";
import type { ToolResult } from "../tool.js";
import { type Check, check } from "./check.js";

/** Hypervisor.framework as QEMU uses it, and the M1 Max fix the virt machine's memory map needs. */
export const MINIMUM_MACOS = [12, 4] as const;

export type HostSystem =
  | { readonly platform: "darwin"; readonly swVers: ToolResult }
  | { readonly platform: "linux"; readonly kernel: string; readonly osRelease: string | undefined }
  | { readonly platform: "other"; readonly name: string };

/** PRETTY_NAME from /etc/os-release ("Debian GNU/Linux 12 (bookworm)"). */
export function parseOsRelease(text: string): string | undefined {
  const fields = new Map<string, string>();
  for (const line of text.split("\n")) {
    const match = /^([A-Z0-9_]+)=(.*)$/.exec(line.trim());
    if (match?.[1] === undefined || match[2] === undefined) continue;
    fields.set(match[1], match[2].replace(/^(["'])(.*)\1$/, "$2"));
  }
  return fields.get("PRETTY_NAME") ?? fields.get("NAME");
}

export function checkHost(host: HostSystem): Check {
  if (host.platform === "linux") {
    const distribution = host.osRelease === undefined ? undefined : parseOsRelease(host.osRelease);
    return check("host", "ok", `Linux ${host.kernel}${distribution ? `, ${distribution}` : ""}`);
  }
  if (host.platform === "other") {
    return check(
      "host",
      "warn",
      `${host.name} is untested: linux-builder knows macOS and Linux`,
      "Expect rough edges; reports are welcome.",
    );
  }
  const minimum = MINIMUM_MACOS.join(".");
  if (host.swVers.kind !== "ran") {
    const why = host.swVers.kind === "missing" ? "sw_vers is missing" : host.swVers.message;
    return check(
      "macOS",
      "warn",
      `cannot tell the macOS version (${why})`,
      `Check that it is ${minimum} or later.`,
    );
  }
  const text = host.swVers.stdout.trim();
  const version = /^\d+(\.\d+)*$/.test(text) ? parseVersion(text) : undefined;
  if (version === undefined) {
    return check(
      "macOS",
      "warn",
      `cannot read the macOS version from sw_vers: "${text}"`,
      `Check that it is ${minimum} or later.`,
    );
  }
  if (compareVersions(version, MINIMUM_MACOS) < 0) {
    return check(
      "macOS",
      "fail",
      `macOS ${text} is older than ${minimum}, which the builder needs (Hypervisor.framework)`,
      `Update macOS to ${minimum} or later.`,
    );
  }
  return check("macOS", "ok", `macOS ${text}`);
}
