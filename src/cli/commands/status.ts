import { builderStatus } from "../../app/builder-status.js";
import { BUILDER_FLAGS, loadBuilderConfig } from "../builder-flags.js";
import { defineCommand } from "../command.js";
import { switchFlag } from "../flags.js";
import { formatBytes } from "../output.js";

export const statusCommand = defineCommand({
  path: ["status"],
  description: "is the builder running and ready, and how",
  flags: { ...BUILDER_FLAGS, json: switchFlag("--json", "print as JSON") },
  async run(context, flags) {
    const { report, instance } = await builderStatus(context.host, await loadBuilderConfig(context, flags));
    if (flags.json) {
      process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
      return 0;
    }
    const lines = [
      `Builder:  ${report.running ? `running (pid ${report.pid}), ${report.ready ? "ready" : "not ready"}` : "stopped"}`,
      ...(instance
        ? [
            `Accel:    ${instance.accel}, ${instance.cpus} CPUs, ${instance.memoryMiB} MiB`,
            `Address:  127.0.0.1:${instance.port}`,
            `Uptime:   ${report.uptimeSeconds} s`,
            `Image:    ${instance.imageId}`,
            ...(instance.caCertificates === undefined
              ? []
              : [
                  `CAs:      Debian's set${instance.caCertificates === "none" ? "" : `, and ${instance.caCertificates}`}`,
                ]),
          ]
        : []),
      ...(report.disk
        ? [`Disk:     ${formatBytes(report.disk.usedBytes)} used of ${formatBytes(report.disk.sizeBytes)}`]
        : []),
      `State:    ${report.stateDir}`,
    ];
    process.stdout.write(`${lines.join("\n")}\n`);
    return 0;
  },
});
