import { type Config, emulatedSystemsOf, type NixSystem } from "../config/config.js";
import { ARCHITECTURES } from "../image/guest/profile.js";

/** One system a builder serves, and how: natively, or through qemu-user in the guest. */
export interface ServedSystem {
  readonly system: NixSystem;
  readonly emulated: boolean;
}

/** What a builder with these settings serves: its guest's own system first, then each emulated one. */
export function servedSystems(config: Pick<Config, "arch" | "emulatedSystems">): ServedSystem[] {
  return [
    { system: ARCHITECTURES[config.arch].nixSystem, emulated: false },
    ...emulatedSystemsOf(config).map((system) => ({ system, emulated: true })),
  ];
}

/** The systems as the machines line and the declarative snippet list them. */
export function builderSystems(config: Pick<Config, "arch" | "emulatedSystems">): NixSystem[] {
  return servedSystems(config).map((served) => served.system);
}

/**
 * How `status` names them. Nix gives a machine one speed factor for all its systems, so the emulated
 * ones are said to be slower here, where the user looks.
 */
export function describeSystems(systems: readonly ServedSystem[]): string {
  return systems
    .map(({ system, emulated }) =>
      emulated ? `${system} (emulated through qemu-user: several times slower)` : `${system} (native)`,
    )
    .join(", ");
}
