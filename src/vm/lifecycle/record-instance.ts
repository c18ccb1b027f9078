import { type InstanceInfo, writeInstance } from "../instance.js";
import { type BootOptions, bootForwardPort, type PreparedBoot } from "./prepare.js";

/** Writes instance.json, what status and ssh read about the running VM. */
export async function recordInstance(
  options: Pick<BootOptions, "config" | "layout" | "image" | "forwardPort">,
  boot: PreparedBoot,
  pid: number,
  attached: boolean,
  consoleOffset: number,
): Promise<InstanceInfo> {
  const { config, layout, image } = options;
  const forwardPort = bootForwardPort(options);
  const instance: InstanceInfo = {
    pid,
    port: config.port,
    // Only behind the service's front door does the forward sit elsewhere.
    ...(forwardPort === config.port ? {} : { forwardPort }),
    accel: boot.accel,
    arch: config.arch,
    imageId: image.manifest.id,
    startedAt: new Date().toISOString(),
    cpus: config.cpus,
    memoryMiB: config.memoryMiB,
    attached,
    consoleOffset,
    caCertificates: boot.caSource,
  };
  await writeInstance(layout, instance);
  return instance;
}
