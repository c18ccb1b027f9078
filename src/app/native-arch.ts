import type { Host } from "../host/host.js";
import type { Arch } from "../image/guest/profile.js";

/** The guest architecture for this host: its own where we have one, so the builder runs natively; else amd64. */
export function nativeArch(host: Pick<Host, "arch">): Arch {
  return host.arch ?? "amd64";
}
