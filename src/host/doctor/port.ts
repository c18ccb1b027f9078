/** The port check: whether QEMU can bind the builder's ssh port, and who holds it if not. */
import { hostForwardAddress, privilegedPortWarning } from "../../vm/qemu/argv.js";
import type { HostKind } from "../host.js";
import { type Check, check } from "./check.js";

export interface Listener {
  readonly pid: number;
  readonly command: string;
  readonly user?: string;
  /** Where it listens, as lsof names it ("127.0.0.1:31022", "*:22"). */
  readonly addresses: readonly string[];
}

/**
 * lsof's -F output (`lsof -nP -iTCP:PORT -sTCP:LISTEN -FpcLn`): one field a line, its first
 * character the field's name. `p` starts a process; `c` (command), `L` (login) and `n` (the
 * address, once per file) belong to the last one. Other fields (`f`, `t`…) are skipped.
 */
export function parseLsofListeners(text: string): Listener[] {
  const listeners: { pid: number; command: string; user?: string; addresses: string[] }[] = [];
  for (const line of text.split("\n")) {
    const field = line[0];
    const value = line.slice(1).trimEnd();
    if (field === "p") {
      const pid = Number.parseInt(value, 10);
      if (Number.isInteger(pid) && pid > 0) listeners.push({ pid, command: "", addresses: [] });
      continue;
    }
    const current = listeners.at(-1);
    if (current === undefined) continue;
    if (field === "c") current.command = value;
    else if (field === "L") current.user = value;
    else if (field === "n" && !current.addresses.includes(value)) current.addresses.push(value);
  }
  return listeners;
}

/** What binding the forward's address and port ourselves said: what QEMU will meet. */
export type PortProbe = "free" | "in-use" | "denied" | { readonly error: string };

export interface PortFacts {
  readonly port: number;
  readonly hostPlatform: HostKind;
  readonly probe: PortProbe;
  /** Who listens on the port per lsof; undefined when lsof is missing or failed. */
  readonly listeners: readonly Listener[] | undefined;
  /** Our running builder, if any: its pid and the port it was started on. */
  readonly builder: { readonly pid: number; readonly port: number | undefined } | undefined;
  /** Our service (`linux-builder serve`), if one answers: its pid and the front door it listens on. */
  readonly service: { readonly pid: number; readonly port: number } | undefined;
}

function describeListener(listener: Listener): string {
  const who = [`pid ${listener.pid}`, ...(listener.user ? [`user ${listener.user}`] : [])].join(", ");
  const where = listener.addresses.length > 0 ? ` on ${listener.addresses.join(", ")}` : "";
  return `${listener.command || "a process"} (${who})${where}`;
}

export function checkPort(facts: PortFacts): Check {
  const { port } = facts;
  const address = hostForwardAddress(facts.hostPlatform, port);
  const name = `port ${port}`;
  const otherPort = `Stop it, or give the builder another port: --port, or "port" in the config file.`;
  if (facts.probe === "free") {
    const warning = privilegedPortWarning({ hostPlatform: facts.hostPlatform, sshPort: port });
    if (warning !== undefined) {
      return check(name, "warn", `free, but ${warning}`, "Use a port above 1023 unless you need this one.");
    }
    return check(name, "ok", `free on ${address}`);
  }
  if (facts.probe === "denied") {
    return check(
      name,
      "fail",
      `cannot listen on ${address}:${port}: permission denied (ports below 1024 need root here)`,
      'Use a port above 1023: --port, or "port" in the config file (the default is 31022).',
    );
  }
  if (facts.probe !== "in-use") {
    return check(name, "warn", `cannot test ${address}:${port}: ${facts.probe.error}`);
  }
  const holders = facts.listeners ?? [];
  const { service } = facts;
  if (service !== undefined && holders.some((l) => l.pid === service.pid)) {
    return check(name, "ok", `the front door of the service (linux-builder serve, pid ${service.pid})`);
  }
  const ours = facts.builder === undefined ? undefined : holders.find((l) => l.pid === facts.builder?.pid);
  if (ours !== undefined) return check(name, "ok", `held by the running builder (pid ${ours.pid})`);
  const others = holders.filter((l) => l.pid !== facts.builder?.pid);
  if (others.length > 0) {
    return check(name, "fail", `taken by ${others.map(describeListener).join("; ")}`, otherPort);
  }
  // Nobody lsof can name holds it: when our service says it listens there, it is the one.
  if (service !== undefined && service.port === port) {
    return check(
      name,
      "ok",
      `in use, by the service (linux-builder serve, pid ${service.pid}) that says it listens there (lsof could not confirm)`,
    );
  }
  // Nobody lsof can name holds it: when our builder was started on this port, it is the one.
  if (facts.builder !== undefined && facts.builder.port === port) {
    return check(
      name,
      "ok",
      `in use, by the running builder (pid ${facts.builder.pid}) started on it (lsof could not confirm)`,
    );
  }
  const lookup = `lsof -nP -iTCP:${port} -sTCP:LISTEN`;
  return check(
    name,
    "fail",
    facts.listeners === undefined
      ? `taken on ${address}; lsof is not available to name the process`
      : `taken on ${address} by a process lsof does not show you (another user's?)`,
    facts.listeners === undefined
      ? `Install lsof, or find it with \`ss -ltnp\`; ${otherPort}`
      : `\`sudo ${lookup}\` names it; ${otherPort}`,
  );
}
