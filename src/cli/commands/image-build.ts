import { buildImage } from "../../app/build-image.js";
import { describeImage } from "../../app/images.js";
import { nativeArch } from "../../app/native-arch.js";
import { DEFAULT_MIRROR, DEFAULT_SUITE } from "../../image/guest/profile.js";
import { defineCommand } from "../command.js";
import { defaultedFlag, listFlag, negatedSwitch, switchFlag, valueFlag } from "../flags.js";
import { parseArch, parseMirror, parsePackageList } from "../image-flags.js";
import { consoleReporter, formatBytes, say, warn } from "../output.js";

export const imageBuildCommand = defineCommand({
  path: ["image", "build"],
  description: "compose the builder's guest image from signed Debian packages",
  flags: {
    arch: valueFlag(
      "--arch <arch>",
      "guest architecture: amd64 or arm64 (default: the lock's, else the host's)",
    ),
    suite: valueFlag("--suite <suite>", `Debian suite (default: ${DEFAULT_SUITE})`),
    mirror: defaultedFlag("--mirror <url>", "Debian mirror", DEFAULT_MIRROR),
    extraPackages: listFlag(
      "--extra-packages <names>",
      "more Debian packages to put in the guest (comma separated)",
      parsePackageList,
    ),
    lock: valueFlag(
      "--lock <file>",
      "compose exactly the packages of this lock.json, re-verifying every hash",
    ),
    checkValidUntil: negatedSwitch(
      "--no-check-valid-until",
      "accept a Release file whose Valid-Until date has passed (like apt's Check-Valid-Until)",
    ),
    force: switchFlag("--force", "compose again even if an image from the same inputs exists"),
    json: switchFlag("--json", "print the result as JSON"),
  },
  async run(context, flags) {
    const { result, seconds } = await buildImage(context.paths, {
      arch: flags.arch === undefined ? undefined : parseArch(flags.arch),
      nativeArch: nativeArch(context.host),
      suite: flags.suite,
      mirror: parseMirror(flags.mirror),
      extraPackages: flags.extraPackages,
      lockFile: flags.lock,
      checkValidUntil: flags.checkValidUntil,
      force: flags.force,
      // Warnings (a lock without some of the guest's packages, a suite without static emulators) reach
      // stderr even with --json, which quiets the steps.
      reporter: { ...consoleReporter({ quiet: flags.json, env: context.host.env }), warn },
    });
    const m = result.manifest;
    if (flags.json) {
      process.stdout.write(
        `${JSON.stringify({ ...describeImage(result, true), reused: result.reused, seconds, timings: result.timings, signer: result.signer ?? null }, null, 2)}\n`,
      );
      return 0;
    }
    if (result.signer) say(`Signed by: ${result.signer}`);
    say(
      `${result.reused ? "Already composed" : "Composed"} in ${seconds.toFixed(1)} s: ${m.packageCount} packages, kernel ${m.kernelVersion}`,
    );
    process.stdout.write(
      `${result.directory}\n  kernel ${formatBytes(m.kernel.size)}, initrd ${formatBytes(m.initrd.size)}\n`,
    );
    return 0;
  },
});
