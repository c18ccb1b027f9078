import type { ServiceDefinition } from "../../../../src/service/os/service-definition.js";

/** A macOS user's builder, as install would define its service: paths under "Application Support". */
export const MAC_SERVICE: ServiceDefinition = {
  alias: "linux-builder",
  user: "alice",
  argv: [
    "/opt/homebrew/Cellar/node/22.11.0/bin/node",
    "/opt/homebrew/lib/node_modules/linux-builder/dist/cli/main.js",
    "serve",
    "--port",
    "31022",
    "--state-dir",
    "/Users/alice/Library/Application Support/linux-builder/state",
  ],
  environment: {
    HOME: "/Users/alice",
    PATH: "/opt/homebrew/bin:/opt/homebrew/sbin:/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin",
  },
  stateDir: "/Users/alice/Library/Application Support/linux-builder/state",
  logFile: "/Users/alice/Library/Application Support/linux-builder/state/serve.log",
};

/** A Linux user's second builder (another port), its folders moved by LINUX_BUILDER_HOME. */
export const LINUX_SERVICE: ServiceDefinition = {
  alias: "linux-builder-31023",
  user: "bob",
  argv: [
    "/usr/bin/node",
    "/home/bob/src/linux-builder/dist/cli/main.js",
    "serve",
    "--port",
    "31023",
    "--arch",
    "arm64",
  ],
  environment: {
    HOME: "/home/bob",
    PATH: "/home/bob/.local/bin:/usr/local/bin:/usr/bin:/bin",
    LINUX_BUILDER_HOME: "/home/bob/builders/arm 64",
  },
  stateDir: "/home/bob/builders/arm 64/state",
  logFile: "/home/bob/builders/arm 64/state/serve.log",
};
