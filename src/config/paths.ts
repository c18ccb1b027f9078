import { join, resolve } from "node:path";
import type { Host } from "../host/host.js";
import { platformOf } from "../host/platform/platform.js";

/** Where linux-builder keeps its files. Derived from the platform's conventions, see `resolvePaths`. */
export interface Paths {
  /** Downloaded, verified things that can be fetched again: .debs and indexes. */
  readonly cache: string;
  /** Composed images, one content-addressed directory each. */
  readonly images: string;
  /** Per-install state: VM disk, keys, pidfile, logs. */
  readonly state: string;
  /** The user's settings file (JSON). */
  readonly config: string;
}

/**
 * Pure: computes the directories from the host's platform and environment.
 * `LINUX_BUILDER_HOME` (relative: from the current folder) moves everything under one folder (tests and users who want that);
 * otherwise XDG base directories on Linux and `~/Library` on macOS.
 */
export function resolvePaths(host: Pick<Host, "kind" | "home" | "env" | "cwd">): Paths {
  const { env } = host;
  if (env.LINUX_BUILDER_HOME !== undefined && env.LINUX_BUILDER_HOME !== "") {
    const override = resolve(host.cwd, env.LINUX_BUILDER_HOME);
    return {
      cache: join(override, "cache"),
      images: join(override, "images"),
      state: join(override, "state"),
      config: join(override, "config.json"),
    };
  }
  return platformOf(host.kind).folders(host.home, host.env);
}
