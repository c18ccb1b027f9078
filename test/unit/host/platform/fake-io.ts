import type { PlatformIo } from "../../../../src/host/platform/platform.js";
import type { ToolResult } from "../../../../src/host/tool.js";

/**
 * A host for the platform files: the files that exist (with their text), the commands' results by
 * their exact argv. It records every command run, so tests assert the argv exactly.
 */
export function fakeIo(host: {
  files?: Record<string, string>;
  commands?: Record<string, ToolResult>;
  kernel?: string;
}): PlatformIo & { ran: string[][] } {
  const ran: string[][] = [];
  return {
    ran,
    async run(command, args) {
      ran.push([command, ...args]);
      return host.commands?.[[command, ...args].join(" ")] ?? { kind: "missing" };
    },
    async exists(path) {
      return host.files?.[path] !== undefined;
    },
    async readText(path) {
      return host.files?.[path];
    },
    kernelRelease: () => host.kernel ?? "6.1.0",
  };
}
