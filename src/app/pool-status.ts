import { stat } from "node:fs/promises";
import type { Config } from "../config/config.js";
import type { Host } from "../host/host.js";
import { type InstalledBuilder, stateFolderMissing } from "../host/install-registry.js";
import { builderStatus, type StatusReport } from "./builder-status.js";
import { isSelectedBuilder } from "./installed-builders.js";

/** One builder of the pool as `status` lists it (and `status --json` prints in `builders`). */
export interface PoolMember {
  readonly port: number;
  readonly arch: string;
  readonly systems: readonly string[];
  readonly stateDir: string;
  readonly nixConfDir: string;
  readonly sshConfigDir: string;
  /** Whether it is the builder the command's flags and config name (the one whose details follow). */
  readonly selected: boolean;
  readonly running: boolean;
  readonly ready: boolean;
  /** The VM as its service sees it (off, booting, up…); null: no service answers. */
  readonly serviceVm: string | null;
  /** The OS service manager's word on its service; null: none installed. */
  readonly osService: string | null;
  /** Its state folder is gone (deleted by hand): only uninstall is left to do for it. */
  readonly stateDirMissing: boolean;
}

/** The pool's line for a builder, from its own status report. */
export function poolMember(
  builder: InstalledBuilder,
  report: Pick<StatusReport, "running" | "ready" | "service" | "osService">,
  selected: boolean,
  stateDirMissing = false,
): PoolMember {
  return {
    port: builder.port,
    arch: builder.arch,
    systems: builder.systems,
    stateDir: builder.stateDir,
    nixConfDir: builder.nixConfDir,
    sshConfigDir: builder.sshConfigDir,
    selected,
    running: report.running,
    ready: report.ready,
    serviceVm: report.service?.vm.state ?? null,
    osService: report.osService?.state ?? null,
    stateDirMissing,
  };
}

/**
 * Every recorded builder's state, each asked as `status` asks one, all at once: the selected one's
 * report is reused, the others get their own (their port, architecture and state folder from the record).
 */
export function poolStatus(
  host: Host,
  config: Config,
  selectedReport: StatusReport,
  recorded: readonly InstalledBuilder[],
): Promise<PoolMember[]> {
  return Promise.all(
    recorded.map(async (builder) => {
      const selected = isSelectedBuilder(builder, host, config);
      const missing = await stat(builder.stateDir).then(
        () => false,
        () => true,
      );
      // Nothing to probe for a folder that is gone (and the probe is not to make it again).
      const report = selected
        ? selectedReport
        : missing
          ? { running: false, ready: false, service: null, osService: null }
          : (
              await builderStatus(host, {
                ...config,
                stateDir: builder.stateDir,
                port: builder.port,
                arch: builder.arch,
              })
            ).report;
      return poolMember(builder, report, selected, missing);
    }),
  );
}

/** One short line per builder: where it listens, what it is and serves, and whether it answers. */
export function poolLine(member: PoolMember): string {
  const state = member.stateDirMissing
    ? stateFolderMissing(member)
    : member.serviceVm !== null
      ? `service up, VM ${member.serviceVm}`
      : member.running
        ? `running, ${member.ready ? "ready" : "not ready"}`
        : member.osService !== null
          ? `stopped, its service ${member.osService}`
          : "stopped";
  return `${member.selected ? "*" : " "} 127.0.0.1:${member.port}  ${member.arch}  ${member.systems.join(",")}  ${state}  ${member.stateDir}`;
}
