import { LinuxBuilderError } from "../../errors.js";

/** Module names use `_` and `-` interchangeably (virtio-rng.ko is module virtio_rng). */
export function moduleName(fileOrName: string): string {
  const base = fileOrName.slice(fileOrName.lastIndexOf("/") + 1);
  return base.replace(/\.ko(\.(xz|zst|gz))?$/, "").replaceAll("-", "_");
}

/**
 * Reads the `.modinfo` section of a kernel module (ELF64, little-endian: amd64 and arm64) into
 * key → values. The .deb ships no modules.dep (depmod runs in postinst), so `depends=` is our source.
 */
export function parseModinfo(ko: Buffer, label: string): Map<string, string[]> {
  const bad = (why: string) =>
    new LinuxBuilderError("kernel.module", `Cannot read the kernel module ${label}: ${why}`);
  if (ko.length < 64 || ko.readUInt32BE(0) !== 0x7f454c46) throw bad("not an ELF file");
  if (ko[4] !== 2 || ko[5] !== 1) throw bad("not a 64-bit little-endian ELF file");
  const sectionTable = Number(ko.readBigUInt64LE(0x28));
  const entrySize = ko.readUInt16LE(0x3a);
  const count = ko.readUInt16LE(0x3c);
  const namesIndex = ko.readUInt16LE(0x3e);
  if (sectionTable + count * entrySize > ko.length) throw bad("section table out of bounds");
  const section = (i: number) => {
    const at = sectionTable + i * entrySize;
    return {
      name: ko.readUInt32LE(at),
      offset: Number(ko.readBigUInt64LE(at + 0x18)),
      size: Number(ko.readBigUInt64LE(at + 0x20)),
    };
  };
  const names = section(namesIndex);
  for (let i = 0; i < count; i++) {
    const s = section(i);
    const nameStart = names.offset + s.name;
    const name = ko.toString("latin1", nameStart, ko.indexOf(0, nameStart));
    if (name !== ".modinfo") continue;
    if (s.offset + s.size > ko.length) throw bad(".modinfo out of bounds");
    const info = new Map<string, string[]>();
    for (const entry of ko.toString("latin1", s.offset, s.offset + s.size).split("\0")) {
      const eq = entry.indexOf("=");
      if (eq <= 0) continue;
      const key = entry.slice(0, eq);
      info.set(key, [...(info.get(key) ?? []), entry.slice(eq + 1)]);
    }
    return info;
  }
  throw bad("it has no .modinfo section");
}

/** The dependencies a module's .modinfo names. */
export function moduleDepends(modinfo: Map<string, string[]>): string[] {
  return (modinfo.get("depends") ?? [])
    .flatMap((value) => value.split(","))
    .filter((name) => name !== "")
    .map(moduleName);
}

export interface AvailableModule {
  /** Path under lib/modules/VERSION/, e.g. kernel/drivers/block/virtio_blk.ko */
  readonly path: string;
  readonly depends: readonly string[];
}

/**
 * Which module files to ship and in which order to load them: dependencies first, ties broken by
 * name so the order is reproducible. Built-in modules need no loading. A module that is neither
 * built in nor shipped by the kernel package is an error naming who wanted it.
 */
export function planModuleLoadOrder(
  wanted: readonly string[],
  available: ReadonlyMap<string, AvailableModule>,
  builtin: ReadonlySet<string>,
  kernelLabel: string,
): AvailableModule[] {
  const order: AvailableModule[] = [];
  const done = new Set<string>();
  const visiting = new Set<string>();
  const visit = (name: string, chain: readonly string[]): void => {
    if (done.has(name) || builtin.has(name)) return;
    const module = available.get(name);
    if (module === undefined) {
      throw new LinuxBuilderError(
        "kernel.module-missing",
        `Cannot prepare the kernel modules: ${[...chain, name].join(" → ")} is neither built into ${kernelLabel} nor shipped with it`,
        { hint: "Choose a kernel flavour that has the module, or remove it from the guest profile." },
      );
    }
    if (visiting.has(name)) return; // Module dependency cycles cannot load anyway; the kernel refuses them.
    visiting.add(name);
    for (const dependency of [...module.depends].sort()) visit(dependency, [...chain, name]);
    visiting.delete(name);
    done.add(name);
    order.push(module);
  };
  for (const name of [...wanted].map(moduleName)) visit(name, []);
  return order;
}
