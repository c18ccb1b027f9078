/**
 * The OS service's part of install and uninstall: the plist or unit written or removed, and the
 * launchctl / systemctl commands that load, restart or unload it, as plan steps.
 */
import type { InstalledService } from "../service/os/installed-service.js";
import { launchdPlist } from "../service/os/launchd-plist.js";
import {
  SERVICE_MARKER,
  type ServiceDefinition,
  serviceFile,
  serviceName,
} from "../service/os/service-definition.js";
import { systemdUnit } from "../service/os/systemd-unit.js";
import { fileContent, fileExists, type HostState } from "./host-state.js";
import type { Step } from "./plan.js";
import type { PlanBuilder } from "./plan-builder.js";
import { shellWord } from "./shell-word.js";

/** What install does about the service: set it up as defined, or remove the one an earlier install set up. */
export type ServiceRequest =
  | { readonly kind: "install"; readonly definition: ServiceDefinition }
  | { readonly kind: "remove" };

const command = (argv: string[], why: string, beforeFiles = false): Step => ({
  kind: "command",
  argv,
  why,
  ...(beforeFiles ? { beforeFiles: true } : {}),
});

/** `linux-builder serve …` as the user types it, from the service's command line. */
export function serveCommandLine(definition: ServiceDefinition): string {
  return ["linux-builder", ...definition.argv.slice(2).map(shellWord)].join(" ");
}

/** The service install sets up for the builder `alias`, unless no manager runs or its file is not ours. */
export function serviceToSetUp(state: HostState, alias: string): InstalledService | undefined {
  const manager = state.serviceManager;
  if (manager.kind === "none") return undefined;
  const file = serviceFile(manager, alias);
  if (fileExists(state, file) && !fileContent(state, file)?.includes(SERVICE_MARKER)) return undefined;
  return { manager: manager.kind, name: serviceName(manager.kind, alias), file };
}

/**
 * Sets the builder's service up: its definition written (root's, 0644) unless it is already what
 * install would write, then loaded. A changed definition replaces the running serve (it restarts
 * with the new settings). Where no manager runs, the notes say how to run serve instead.
 */
export function planService(plan: PlanBuilder, state: HostState, definition: ServiceDefinition): void {
  const manager = state.serviceManager;
  const serve = serveCommandLine(definition);
  const service = serviceToSetUp(state, definition.alias);
  if (service === undefined || manager.kind === "none") {
    const why =
      manager.kind === "none"
        ? manager.why
        : `${serviceFile(manager, definition.alias)} was not written by install: it stays`;
    plan.notes.push(
      `No service was set up (${why}): run \`${serve}\` in the background (it boots the builder when a build needs it); without it, \`linux-builder start\` is needed before builds.`,
    );
    return;
  }
  const { file, name } = service;
  const current = fileContent(state, file);
  const text = manager.kind === "launchd" ? launchdPlist(definition) : systemdUnit(definition);
  if (text === current) return;
  plan.write(file, text, 0o644, { touched: true, extra: { exactMode: true } });
  if (manager.kind === "systemd") {
    plan.steps.push(command(["systemctl", "daemon-reload"], "make systemd read the builder's unit"));
    if (current === undefined) {
      plan.steps.push(command(["systemctl", "enable", "--now", name], "start serve now and at every boot"));
    } else {
      plan.steps.push(command(["systemctl", "enable", name], "start serve at every boot"));
      plan.steps.push(command(["systemctl", "restart", name], "restart serve with the new settings"));
    }
    return;
  }
  // launchd refuses to bootstrap a label it has loaded: the old definition goes first.
  if (state.loadedServices.includes(name)) {
    plan.steps.push(
      command(["launchctl", "bootout", `system/${name}`], "stop serve and unload its old definition"),
    );
  }
  plan.steps.push(command(["launchctl", "bootstrap", "system", file], "load serve's daemon and start it"));
}

/**
 * Removes the builder's service when install wrote it: stopped and unloaded first (serve powers
 * the VM off), then its file, then systemd told. A file install did not write stays.
 */
export function planServiceRemoval(plan: PlanBuilder, state: HostState, alias: string): void {
  const manager = state.serviceManager;
  if (manager.kind === "none") return;
  const file = serviceFile(manager, alias);
  const name = serviceName(manager.kind, alias);
  const current = fileContent(state, file);
  if (fileExists(state, file) && !current?.includes(SERVICE_MARKER)) {
    plan.notes.push(`${file} was not written by install: it stays.`);
    return;
  }
  if (manager.kind === "launchd") {
    if (state.loadedServices.includes(name)) {
      plan.steps.push(
        command(
          ["launchctl", "bootout", `system/${name}`],
          "stop serve (it powers the builder off) and unload it",
          true,
        ),
      );
    }
    if (current !== undefined) plan.remove(file);
    return;
  }
  if (current === undefined) return;
  plan.steps.push(
    command(
      ["systemctl", "disable", "--now", name],
      "stop serve (it powers the builder off) and disable it",
      true,
    ),
  );
  plan.remove(file);
  plan.steps.push(command(["systemctl", "daemon-reload"], "make systemd forget the builder's unit"));
}

/** The order applyPlan runs the steps in: commands marked beforeFiles, then the rest as planned. */
export function inRunOrder(steps: readonly Step[]): Step[] {
  const first = (step: Step) => step.kind === "command" && step.beforeFiles === true;
  return [...steps.filter(first), ...steps.filter((step) => !first(step))];
}
