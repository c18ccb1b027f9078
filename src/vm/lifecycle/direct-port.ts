import type { InstanceInfo } from "../instance.js";

/**
 * Where a running VM's own ssh forward listens, for a caller going to it directly (no service
 * answering): a VM an earlier serve booted listens on its forwardPort (its `port` was serve's front
 * door, dead with serve); one `start` booted, on its port. Without a readable instance.json (a start
 * killed before it wrote one, a foreign file), the configured port is the best guess.
 */
export function directSshPort(instance: InstanceInfo | undefined, configuredPort: number): number {
  return instance?.forwardPort ?? instance?.port ?? configuredPort;
}
