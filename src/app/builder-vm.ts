import type { Host } from "../host/host.js";
import type { VmBackend } from "../vm/lifecycle/prepare.js";
import { qemuBackend } from "../vm/qemu/backend.js";
import { type StateLayout, stateLayout } from "../vm/state.js";

/** One install's VM: where its files are, and the backend that runs it (QEMU, the only one so far). */
export interface BuilderVm {
  readonly layout: StateLayout;
  readonly backend: VmBackend;
}

export function builderVm(host: Host, stateDir: string): BuilderVm {
  const layout = stateLayout(stateDir);
  return { layout, backend: qemuBackend(host, layout) };
}
