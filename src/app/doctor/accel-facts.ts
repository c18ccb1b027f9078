import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import type { Config } from "../../config/config.js";
import type { Paths } from "../../config/paths.js";
import type { Check } from "../../host/doctor/check.js";
import type { AccelFacts } from "../../host/doctor/qemu.js";
import type { Host } from "../../host/host.js";
import { hostIo } from "../../host/platform/io.js";
import { platformOf } from "../../host/platform/platform.js";
import { ARCHITECTURES } from "../../image/guest/profile.js";
import { ImageStore } from "../../image/store.js";
import { chooseAccel } from "../../vm/qemu/accel.js";
import type { StateLayout } from "../../vm/state.js";

/** Which accelerator `start` would choose (probing it, as start does) and why. */
export async function accelFacts(
  host: Host,
  paths: Paths,
  config: Config,
  layout: StateLayout,
  qemu: Check,
): Promise<AccelFacts> {
  if (qemu.status === "fail") {
    // A probe without QEMU would fail, and be remembered as "KVM does not work".
    return { kind: "skipped", reason: "not checked: QEMU is missing" };
  }
  const image = await new ImageStore(paths.images).currentOrNone(config.arch);
  const noImage = new Error(`no ${config.arch} image yet`);
  try {
    // A verdict remembered in the state dir needs no image; a probe boots the image's kernel, and
    // chooseAccel remembers it there, as `start` does.
    const auto = await chooseAccel(host, {
      requested: "auto",
      arch: config.arch,
      qemu: ARCHITECTURES[config.arch].qemu,
      kernel: async () => {
        if (image === undefined) throw noImage;
        await mkdir(layout.dir, { recursive: true, mode: 0o700 });
        return join(image.directory, "kernel");
      },
      cacheFile: join(layout.dir, "accel.json"),
    });
    const hv = await platformOf(host.kind).hypervisorSupport(hostIo);
    return {
      kind: "chosen",
      requested: config.accel,
      auto: auto.warning === undefined ? { accel: auto.accel } : { accel: auto.accel, warning: auto.warning },
      ...(hv === undefined ? {} : { hvSupport: hv }),
    };
  } catch (error) {
    if (error === noImage) {
      return {
        kind: "skipped",
        reason: `no ${config.arch} image yet, whose kernel the probe boots`,
        fix: "Run `linux-builder image build` (`linux-builder start` also makes one).",
      };
    }
    return { kind: "skipped", reason: `cannot probe: ${(error as Error).message}` };
  }
}
