/**
 * The OS service's part of install and uninstall: the plist or unit written or removed, and the
 * launchctl / systemctl commands that load, restart or unload it, as plan steps.
 */
import {
  builderService,
  definitionOwner,
  type InstalledService,
  type ServiceCondition,
} from "../service/os/installed-service.js";
import { launchdPlist } from "../service/os/launchd-plist.js";
import { type ServiceDefinition, STOP_TIMEOUT_SECONDS } from "../service/os/service-definition.js";
import { systemdUnit } from "../service/os/systemd-unit.js";
import { fileContent, type HostState } from "./host-state.js";
import type { CommandStep, Step } from "./plan.js";
import type { PlanBuilder } from "./plan-builder.js";
import { shellWord } from "./shell-word.js";

/** What install does about the service: set it up as defined, or remove the one an earlier install set up. */
export type ServiceRequest =
  | { readonly kind: "install"; readonly definition: ServiceDefinition }
  | { readonly kind: "remove" };

/** A service step: `beforeFiles` stops a service whose file goes, `undo` starts it again should the files be put back. */
const command = (
  argv: string[],
  why: string,
  order: { beforeFiles?: boolean; undo?: string[] } = {},
): CommandStep => ({
  kind: "command",
  argv,
  why,
  ...(order.beforeFiles ? { beforeFiles: true } : {}),
  ...(order.undo === undefined ? {} : { undo: order.undo }),
  service: true,
});

/**
 * launchd lets go of a label booted out only once serve has exited (bootstrap before that fails:
 * "Bootstrap failed: 5: Input/output error"); serve has ExitTimeOut to power the VM off, then is killed.
 */
export const LABEL_GONE_WITHIN_SECONDS = STOP_TIMEOUT_SECONDS + 30;

/** `launchctl bootout` of a loaded label, then the wait until launchd has let go of it. */
function bootout(name: string, why: string, order: { beforeFiles?: boolean; undo?: string[] }): Step[] {
  return [
    command(["launchctl", "bootout", `system/${name}`], why, order),
    {
      ...command(["launchctl", "print", `system/${name}`], "wait until launchd has let go of serve's label", {
        beforeFiles: order.beforeFiles ?? false,
      }),
      untilFailsWithinSeconds: LABEL_GONE_WITHIN_SECONDS,
    },
  ];
}

const loaded = (condition: ServiceCondition): boolean =>
  condition.state === "running" || condition.state === "stopped";

/** `linux-builder serve …` as the user types it, from the service's command line. */
export function serveCommandLine(definition: ServiceDefinition): string {
  return ["linux-builder", ...definition.argv.slice(2).map(shellWord)].join(" ");
}

/** The service install sets up for the builder `alias`, unless no manager runs or its file is not ours. */
export function serviceToSetUp(state: HostState, alias: string): InstalledService | undefined {
  const manager = state.serviceManager;
  if (manager.kind === "none") return undefined;
  const service = builderService(manager, alias);
  return definitionOwner(state.files[service.file] ?? { exists: false }) === "other" ? undefined : service;
}

/**
 * Sets the builder's service up: its definition written (root's, 0644) unless it is already what
 * install would write, then loaded. A changed definition replaces the running serve (it restarts
 * with the new settings); an unchanged one not loaded, not enabled or not running is started (so
 * install run again repairs it). Where no manager runs, the notes say how to run serve instead.
 */
export function planService(plan: PlanBuilder, state: HostState, definition: ServiceDefinition): void {
  const manager = state.serviceManager;
  const service = serviceToSetUp(state, definition.alias);
  if (service === undefined || manager.kind === "none") {
    const why =
      manager.kind === "none"
        ? manager.why
        : `${builderService(manager, definition.alias).file} was not written by install: it stays`;
    plan.notes.push(
      `No service was set up (${why}): run \`${serveCommandLine(definition)}\` in the background (it boots the builder when a build needs it); without it, \`linux-builder start\` is needed before builds.`,
    );
    return;
  }
  const { file, name } = service;
  const condition = state.services[name] ?? { state: "unknown" };
  const current = fileContent(state, file);
  const text = manager.kind === "launchd" ? launchdPlist(definition) : systemdUnit(definition);
  if (text === current) {
    plan.steps.push(...repairs(service, condition));
    return;
  }
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
  if (loaded(condition)) plan.steps.push(...bootout(name, "stop serve and unload its old definition", {}));
  plan.steps.push(command(["launchctl", "bootstrap", "system", file], "load serve's daemon and start it"));
}

/** What starts an unchanged service its manager does not run (unknown: nothing, the manager could not say). */
function repairs(service: InstalledService, condition: ServiceCondition): Step[] {
  const { name, file } = service;
  if (service.manager === "systemd") {
    return condition.enabled === false || condition.state === "stopped"
      ? [command(["systemctl", "enable", "--now", name], "start serve now and at every boot: it was not")]
      : [];
  }
  if (condition.state === "not-loaded")
    return [
      command(["launchctl", "bootstrap", "system", file], "load serve's daemon and start it: it was not"),
    ];
  if (condition.state === "stopped")
    return [
      command(
        ["launchctl", "kickstart", `system/${name}`],
        "start serve: launchd had it loaded, not running",
      ),
    ];
  return [];
}

/** What puts a unit back as it was, once `systemctl disable --now` stopped it: enabled, running, both, or neither. */
function systemdUndo(name: string, condition: ServiceCondition): string[] | undefined {
  const running = condition.state === "running";
  if (condition.enabled === true) return ["systemctl", "enable", ...(running ? ["--now"] : []), name];
  return running ? ["systemctl", "start", name] : undefined;
}

/**
 * Removes the builder's service when install wrote it: stopped and unloaded first (serve powers
 * the VM off), then its file, then systemd told. A file install did not write stays. Should a file
 * step fail, the stopped service is started again with its file put back.
 */
export function planServiceRemoval(plan: PlanBuilder, state: HostState, alias: string): void {
  const manager = state.serviceManager;
  if (manager.kind === "none") return;
  const service = builderService(manager, alias);
  const { file, name } = service;
  const owner = definitionOwner(state.files[file] ?? { exists: false });
  if (owner === "other") {
    plan.notes.push(`${file} was not written by install: it stays.`);
    return;
  }
  const condition = state.services[name] ?? { state: "unknown" };
  if (manager.kind === "launchd") {
    if (loaded(condition)) {
      const undo = owner === "install" ? ["launchctl", "bootstrap", "system", file] : undefined;
      plan.steps.push(
        ...bootout(name, "stop serve (it powers the builder off) and unload it", {
          beforeFiles: true,
          ...(undo === undefined ? {} : { undo }),
        }),
      );
    }
    if (owner === "install") plan.remove(file);
    return;
  }
  if (owner === "none") return;
  const undo = systemdUndo(name, condition);
  plan.steps.push(
    command(
      ["systemctl", "disable", "--now", name],
      "stop serve (it powers the builder off) and disable it",
      {
        beforeFiles: true,
        ...(undo === undefined ? {} : { undo }),
      },
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
