import { join } from "node:path";
import { isLinuxBuilderError } from "../../errors.js";
import { casBeyondImage, guestCas, hostCaDeps } from "../../host/ca-certificates.js";
import { type CheckBuildFacts, checkBuild, diagnoseBuildFailure } from "../../host/doctor/build.js";
import { checkBuilder } from "../../host/doctor/builder.js";
import { checkCaCertificates } from "../../host/doctor/ca-certificates.js";
import type { Check } from "../../host/doctor/check.js";
import { checkHost } from "../../host/doctor/host.js";
import { checkInstalledKey, checkStateKeys } from "../../host/doctor/keys.js";
import { checkPort } from "../../host/doctor/port.js";
import { checkAccel, checkQemu } from "../../host/doctor/qemu.js";
import { isRoot } from "../../host/host.js";
import { DEFAULT_NIX_CONF_DIR, DEFAULT_SSH_CONFIG_DIR, installedPaths } from "../../host/installed-paths.js";
import { hostIo } from "../../host/platform/io.js";
import { platformOf } from "../../host/platform/platform.js";
import { runCheckBuild } from "../../host/probe/check-build.js";
import { fileFacts, readOptional } from "../../host/probe/files.js";
import { portListeners, probePort } from "../../host/probe/port.js";
import { guestKernel } from "../../host/probe/ssh.js";
import { runTool } from "../../host/tool.js";
import { ARCHITECTURES } from "../../image/guest/profile.js";
import { ImageStore } from "../../image/store.js";
import { serviceStatus } from "../../service/control-client.js";
import { readInstance } from "../../vm/instance.js";
import { directSshPort } from "../../vm/lifecycle/direct-port.js";
import { runningPid } from "../../vm/lifecycle/pidfile.js";
import { isReady } from "../../vm/lifecycle/readiness.js";
import { hostForwardAddress } from "../../vm/qemu/argv.js";
import { qemuBackend } from "../../vm/qemu/backend.js";
import { stateLayout } from "../../vm/state.js";
import { builderSystems } from "../builder-systems.js";
import { accelFacts } from "./accel-facts.js";
import { configCheck } from "./config-check.js";
import { daemonSideChecks, SYSTEM_SSH_CONFIG } from "./daemon-side-checks.js";
import type { DoctorOptions } from "./doctor-options.js";
import { nixChecks } from "./nix-checks.js";
import { poolCheck } from "./pool-check.js";

/** Every check, in order; those that need the settings stop at a config that cannot be read. */
export async function runChecks(options: DoctorOptions): Promise<Check[]> {
  const { host, paths } = options;
  const hostPlatform = host.kind;
  const checks: Check[] = [checkHost(await platformOf(host.kind).system(host, hostIo))];
  const { config, check } = await configCheck(paths, options.loadConfig);
  checks.push(check);
  if (config === undefined) return checks;

  const layout = stateLayout(config.stateDir);
  const nixConfDir = options.nixConfDir ?? DEFAULT_NIX_CONF_DIR;
  const sshConfigDir = options.sshConfigDir ?? DEFAULT_SSH_CONFIG_DIR;
  const pid = await runningPid(layout, qemuBackend(host, layout));
  const instance = pid === undefined ? undefined : await readInstance(layout);
  // A service in front of the builder: its front door is config.port (instance.port), where the
  // ssh and build checks below connect, as Nix does. Its own state says whether the VM is up: a
  // connection while it is not would wait for (or start) a boot. Without one, the VM is reached
  // where it listens itself (a dead serve's VM: on its forward).
  const service = await serviceStatus(layout.serviceSocket).catch((error: unknown) => {
    if (!isLinuxBuilderError(error)) throw error;
    return undefined;
  });
  const builderPort = service?.listening === true ? config.port : directSshPort(instance, config.port);

  const nix = await nixChecks(
    nixConfDir,
    options,
    installedPaths({ nixConfDir, sshConfigDir }, config.port).alias,
  );
  checks.push(...nix.checks);

  // As the next boot of the current image sends them: those beyond the image's own set.
  const image = await new ImageStore(paths.images).currentOrNone(config.arch);
  checks.push(
    checkCaCertificates(
      await guestCas(config.caCertificates, hostCaDeps(host)).then(
        (cas) => casBeyondImage(cas, image?.manifest.caFingerprints ?? []),
        (error: unknown) => {
          if (!isLinuxBuilderError(error)) throw error;
          return { error };
        },
      ),
    ),
  );

  const qemuCommand = ARCHITECTURES[config.arch].qemu;
  const qemu = checkQemu({
    command: qemuCommand,
    result: await runTool(qemuCommand, ["--version"]),
    platform: hostPlatform,
    arch: config.arch,
  });
  checks.push(qemu);
  options.progress("Checking the accelerator (a probe boot the first time)…");
  checks.push(checkAccel(await accelFacts(host, paths, config, layout, qemu)));

  const probe = await probePort(hostForwardAddress(hostPlatform, config.port), config.port);
  checks.push(
    checkPort({
      port: config.port,
      hostPlatform,
      probe,
      listeners: probe === "in-use" ? await portListeners(config.port) : [],
      builder: pid === undefined ? undefined : { pid, port: instance?.port },
      service: service?.listening === true ? { pid: service.pid, port: service.port } : undefined,
    }),
  );

  const uid = host.uid;
  checks.push(
    checkStateKeys({
      dir: join(layout.dir, "keys"),
      privateKeys: [await fileFacts(layout.builderKey), await fileFacts(layout.hostKey)],
      publicKeys: [await fileFacts(layout.builderPublicKey), await fileFacts(layout.hostPublicKey)],
      uid,
    }),
  );
  const installed = installedPaths({ nixConfDir, sshConfigDir }, config.port);
  const statePublicKey = await readOptional(layout.builderPublicKey);
  checks.push(
    checkInstalledKey({
      key: await fileFacts(installed.key),
      installedPublicKey: await readOptional(installed.publicKey),
      statePublicKey,
    }),
  );
  // The check build runs natively: it proves the route to the builder, not the guest's emulation.
  const system = ARCHITECTURES[config.arch].nixSystem;
  const daemonChecks = await daemonSideChecks({
    host,
    config,
    layout,
    installed,
    nix,
    systems: builderSystems(config),
    nixVersion: nix.version,
  });
  checks.push(...daemonChecks);
  const pool = await poolCheck(host, paths, config);
  if (pool !== undefined) checks.push(pool);

  const ready =
    pid !== undefined &&
    (service === undefined || service.vm.state === "up") &&
    (await isReady(layout, builderPort));
  checks.push(
    checkBuilder({
      pid,
      port: instance?.port,
      configuredPort: config.port,
      accel: instance?.accel,
      uptimeSeconds:
        instance === undefined ? undefined : Math.round((Date.now() - Date.parse(instance.startedAt)) / 1000),
      ready,
    }),
  );

  if (options.build) {
    let facts: CheckBuildFacts;
    if (!ready) {
      facts = {
        kind: "skipped",
        reason: "not run: the builder is not ready",
        fix: "`linux-builder start`, then run doctor again.",
      };
    } else if (nix.route === "daemon" && !nix.daemonBuilder) {
      facts = {
        kind: "skipped",
        reason: "not run: Nix builds through its daemon here, and the daemon has no linux-builder entry",
        fix: "Run `linux-builder install`.",
      };
    } else {
      options.progress("Building a trivial derivation through the builder, as the Nix daemon would…");
      const kernel = await guestKernel(layout, builderPort);
      // Root's ssh (no daemon): whether it will reuse a connection it has open (a user cannot ask root's).
      const reusedConnection =
        nix.route === "local" && isRoot(host)
          ? (await runTool("ssh", ["-O", "check", installed.alias])).kind === "ran"
          : undefined;
      const built = await runCheckBuild(host, { route: nix.route, nixConfDir, system, timeoutMs: 300_000 });
      if (built.kind === "failed") {
        const diagnosis = diagnoseBuildFailure(built.output, {
          machines: installed.machines,
          sshConfig: installed.sshConfig,
          systemSshConfig: SYSTEM_SSH_CONFIG,
          key: installed.key,
          alias: installed.alias,
          system,
        });
        facts = { kind: "failed", message: built.message, ...(diagnosis === undefined ? {} : { diagnosis }) };
      } else {
        facts =
          kernel.kind !== "ran"
            ? { kind: "failed", message: "cannot ask the builder for its kernel over ssh" }
            : {
                ...built,
                guestKernel: kernel.stdout,
                ...(reusedConnection === undefined ? {} : { reusedConnection }),
              };
      }
    }
    checks.push(
      checkBuild(
        facts,
        daemonChecks.filter((c) => c.status === "fail"),
      ),
    );
  }
  return checks;
}
