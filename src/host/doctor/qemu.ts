/** QEMU and the accelerator. */
import { compareVersions } from "../../dotted-version.js";
import type { Accelerator } from "../../vm/qemu/argv.js";
import type { HostKind } from "../host.js";
import type { ToolResult } from "../tool.js";
import { type Check, check } from "./check.js";

/** The oldest QEMU this project is tested with (Debian 12's). */
export const MINIMUM_QEMU = [7, 2] as const;

export function qemuInstallHint(platform: HostKind, arch: "amd64" | "arm64"): string {
  if (platform === "darwin") return "brew install qemu";
  return `apt install ${arch === "amd64" ? "qemu-system-x86" : "qemu-system-arm"} (or your distribution's QEMU package)`;
}

export function checkQemu(facts: {
  readonly command: string;
  readonly result: ToolResult;
  readonly platform: HostKind;
  readonly arch: "amd64" | "arm64";
}): Check {
  const hint = qemuInstallHint(facts.platform, facts.arch);
  if (facts.result.kind === "missing") {
    return check(
      "qemu",
      "fail",
      `${facts.command} is not installed (or not on PATH)`,
      `Install it: ${hint}.`,
    );
  }
  if (facts.result.kind === "failed") {
    return check(
      "qemu",
      "fail",
      `${facts.command} --version failed: ${facts.result.message}`,
      `Reinstall it: ${hint}.`,
    );
  }
  const line = facts.result.stdout.split("\n")[0] ?? "";
  const version = /version\s+(\d+(?:\.\d+)*)/i.exec(line)?.[1];
  if (version === undefined) {
    return check("qemu", "warn", `cannot read ${facts.command}'s version from "${line.trim()}"`);
  }
  const parsed = version.split(".").map(Number);
  if (compareVersions(parsed, MINIMUM_QEMU) < 0) {
    return check(
      "qemu",
      "warn",
      `${facts.command} ${version} is older than ${MINIMUM_QEMU.join(".")}, the oldest tested`,
      `Upgrade it: ${hint}.`,
    );
  }
  return check("qemu", "ok", `${facts.command} ${version}`);
}

export type AccelFacts =
  | { readonly kind: "skipped"; readonly reason: string; readonly fix?: string }
  | {
      readonly kind: "chosen";
      /** What the config asks for. */
      readonly requested: "auto" | Accelerator;
      /** What `auto` picks here after its probe, and its warning if it fell back. */
      readonly auto: { readonly accel: Accelerator; readonly warning?: string };
      /** macOS: `sysctl kern.hv_support` (undefined elsewhere or when unknown). */
      readonly hvSupport?: boolean;
    };

export function checkAccel(facts: AccelFacts): Check {
  const name = "accelerator";
  if (facts.kind === "skipped") return check(name, "warn", facts.reason, facts.fix);
  const { requested, auto } = facts;
  const useAuto = 'Set "accel" to "auto" (or drop --accel) so the builder uses what works.';
  if (auto.accel === "hvf" && facts.hvSupport === false) {
    return check(
      name,
      "fail",
      "Hypervisor.framework is not available on this Mac (sysctl kern.hv_support is 0; a Mac in a VM?)",
      'Run on a Mac with virtualisation, or set "accel" to "tcg" (slow).',
    );
  }
  if (requested === "auto" || requested === auto.accel) {
    if (auto.accel === "tcg") {
      // Builds work, only slowly: the warning says why; nothing to fix on the builder's side.
      return check(name, "warn", auto.warning ?? "TCG: emulation, slow");
    }
    return check(name, "ok", `${auto.accel}${auto.accel === "kvm" ? " (a probe boot passed)" : ""}`);
  }
  if (requested === "tcg") {
    return check(name, "warn", `the config asks for TCG (slow), but ${auto.accel} works here`, useAuto);
  }
  return check(
    name,
    "fail",
    `the config asks for ${requested}, but ${auto.warning ?? `${auto.accel} is what works here`}`,
    useAuto,
  );
}
