import type { Config } from "../config/config.js";
import type { Host } from "../host/host.js";
import type { InstalledBuilder } from "../host/install-registry.js";
import { builderStatus, type StatusReport } from "./builder-status.js";

/** One builder of the pool as `status` lists it (and `status --json` prints in `builders`). */
export interface PoolMember {
  readonly port: number;
  readonly arch: string;
  readonly systems: readonly string[];
  readonly stateDir: string;
  readonly nixConfDir: string;
  /** Whether it is the builder the command's flags and config name (the one whose details follow). */
  readonly selected: boolean;
  readonly running: boolean;
  readonly ready: boolean;
  /** The VM as its service sees it (off, booting, up…); null: no service answers. */
  readonly serviceVm: string | null;
  /** The OS service manager's word on its service; null: none installed. */
  readonly osService: string | null;
}

/** Whether a recorded builder is the one these settings name: its state folder is the builder. */
const isSelected = (
  builder: InstalledBuilder,
  config: Pick<Config, "stateDir">,
  resolveDir: (dir: string) => string,
) => builder.stateDir === resolveDir(config.stateDir);

/** The pool's line for a builder, from its own status report. */
export function poolMember(
  builder: InstalledBuilder,
  report: Pick<StatusReport, "running" | "ready" | "service" | "osService">,
  selected: boolean,
): PoolMember {
  return {
    port: builder.port,
    arch: builder.arch,
    systems: builder.systems,
    stateDir: builder.stateDir,
    nixConfDir: builder.nixConfDir,
    selected,
    running: report.running,
    ready: report.ready,
    serviceVm: report.service?.vm.state ?? null,
    osService: report.osService?.state ?? null,
  };
}

/**
 * Every recorded builder's state, each asked as `status` asks one: the selected one's report is
 * reused, the others get their own (their port, architecture and state folder from the record).
 */
export async function poolStatus(
  host: Host,
  config: Config,
  selectedReport: StatusReport,
  recorded: readonly InstalledBuilder[],
  resolveDir: (dir: string) => string,
): Promise<PoolMember[]> {
  const members: PoolMember[] = [];
  for (const builder of recorded) {
    const selected = isSelected(builder, config, resolveDir);
    const report = selected
      ? selectedReport
      : (
          await builderStatus(host, {
            ...config,
            stateDir: builder.stateDir,
            port: builder.port,
            arch: builder.arch,
          })
        ).report;
    members.push(poolMember(builder, report, selected));
  }
  return members;
}

/** One short line per builder: where it listens, what it is and serves, and whether it answers. */
export function poolLine(member: PoolMember): string {
  const state =
    member.serviceVm !== null
      ? `service up, VM ${member.serviceVm}`
      : member.running
        ? `running, ${member.ready ? "ready" : "not ready"}`
        : member.osService !== null
          ? `stopped, its service ${member.osService}`
          : "stopped";
  return `${member.selected ? "*" : " "} 127.0.0.1:${member.port}  ${member.arch}  ${member.systems.join(",")}  ${state}  ${member.stateDir}`;
}
