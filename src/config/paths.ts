import { homedir } from "node:os";
import { join, resolve } from "node:path";

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

export interface PathEnvironment {
  readonly platform: NodeJS.Platform;
  readonly home: string;
  readonly env: Readonly<Record<string, string | undefined>>;
  /** Resolves a relative LINUX_BUILDER_HOME. */
  readonly cwd: string;
}

/**
 * Pure: computes the directories from the platform and environment.
 * `LINUX_BUILDER_HOME` moves everything under one folder (tests and users who want that);
 * otherwise XDG base directories on Linux and `~/Library` on macOS.
 */
export function resolvePaths(environment: PathEnvironment): Paths {
  const { platform, home, env } = environment;
  if (env.LINUX_BUILDER_HOME !== undefined && env.LINUX_BUILDER_HOME !== "") {
    const override = resolve(environment.cwd, env.LINUX_BUILDER_HOME);
    return {
      cache: join(override, "cache"),
      images: join(override, "images"),
      state: join(override, "state"),
      config: join(override, "config.json"),
    };
  }
  if (platform === "darwin") {
    return {
      cache: join(home, "Library", "Caches", "linux-builder"),
      images: join(home, "Library", "Application Support", "linux-builder", "images"),
      state: join(home, "Library", "Application Support", "linux-builder", "state"),
      config: join(home, "Library", "Application Support", "linux-builder", "config.json"),
    };
  }
  const xdg = (name: string, fallback: string): string => {
    const value = env[name];
    // The XDG spec says relative paths are invalid and must be ignored.
    return value?.startsWith("/") ? value : join(home, fallback);
  };
  return {
    cache: join(xdg("XDG_CACHE_HOME", ".cache"), "linux-builder"),
    images: join(xdg("XDG_DATA_HOME", ".local/share"), "linux-builder", "images"),
    state: join(xdg("XDG_STATE_HOME", ".local/state"), "linux-builder"),
    config: join(xdg("XDG_CONFIG_HOME", ".config"), "linux-builder", "config.json"),
  };
}

/** The paths for this process. */
export function currentPaths(): Paths {
  return resolvePaths({ platform: process.platform, home: homedir(), env: process.env, cwd: process.cwd() });
}
