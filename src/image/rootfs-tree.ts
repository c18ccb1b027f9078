import type { CpioEntry } from "./archive/cpio.js";
import type { TarEntry } from "./archive/tar.js";

/** Top-level directories that merged-/usr turns into symlinks into usr/. */
const MERGED_USR_ALIASES = ["bin", "sbin", "lib", "lib32", "lib64", "libx32"] as const;

/** Maps a path as a package ships it to where it lives on a merged-/usr system. */
export function mergedUsrPath(path: string): string {
  const slash = path.indexOf("/");
  const top = slash === -1 ? path : path.slice(0, slash);
  if ((MERGED_USR_ALIASES as readonly string[]).includes(top)) return `usr/${path}`;
  return path;
}

function parentsOf(path: string): string[] {
  const parts = path.split("/");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

/**
 * The guest's root file system being composed, in memory: a map from path to entry.
 * Packages are added in a fixed order, later files replace earlier ones at the same path (as our
 * overlay replaces package defaults), and the result is written out as a sorted cpio.
 */
export class RootfsTree {
  private readonly entries = new Map<string, CpioEntry>();
  /** Content of each hard link, for when its target is later replaced by a package. */
  private readonly linkBodies = new Map<string, Buffer>();
  private readonly excluded: readonly string[];

  constructor(excludedPrefixes: readonly string[]) {
    this.excluded = excludedPrefixes;
    for (const alias of MERGED_USR_ALIASES) {
      this.entries.set(alias, { path: alias, type: "symlink", mode: 0o777, target: `usr/${alias}` });
      this.entries.set(`usr/${alias}`, { path: `usr/${alias}`, type: "directory", mode: 0o755 });
    }
    this.entries.set("usr", { path: "usr", type: "directory", mode: 0o755 });
  }

  isExcluded(path: string): boolean {
    return this.excluded.some((prefix) => path.startsWith(prefix) || `${path}/` === prefix);
  }

  has(path: string): boolean {
    return this.entries.has(path);
  }

  get(path: string): CpioEntry | undefined {
    return this.entries.get(path);
  }

  /** Adds all entries of one package's data.tar. */
  async addPackage(entries: AsyncIterable<TarEntry>): Promise<{ files: number; bytes: number }> {
    // Bodies of this package's files by path, so a hard link to an excluded file still gets its content.
    const bodies = new Map<string, Buffer>();
    let files = 0;
    let bytes = 0;
    for await (const entry of entries) {
      if (entry.path === "") continue;
      const path = mergedUsrPath(entry.path);
      if (entry.type === "file") bodies.set(path, entry.body ?? Buffer.alloc(0));
      // The aliases are ours: a package's own bin/ or lib64 symlink is already here.
      if ((MERGED_USR_ALIASES as readonly string[]).includes(path)) continue;
      if (this.isExcluded(path)) continue;
      switch (entry.type) {
        case "directory":
          // The first package to ship a directory sets its mode, as dpkg keeps an existing one.
          if (!this.entries.has(path)) this.entries.set(path, { path, type: "directory", mode: entry.mode });
          break;
        case "symlink":
          this.entries.set(path, { path, type: "symlink", mode: 0o777, target: entry.linkname ?? "" });
          break;
        case "file": {
          const data = entry.body ?? Buffer.alloc(0);
          this.entries.set(path, { path, type: "file", mode: entry.mode, data });
          files++;
          bytes += data.length;
          break;
        }
        case "hardlink": {
          const target = mergedUsrPath(entry.linkname ?? "");
          const targetEntry = this.entries.get(target);
          if (targetEntry?.type === "file") {
            this.entries.set(path, { path, type: "hardlink", mode: targetEntry.mode, target });
            this.linkBodies.set(path, targetEntry.data ?? Buffer.alloc(0));
          } else {
            const data = bodies.get(target) ?? Buffer.alloc(0);
            this.entries.set(path, { path, type: "file", mode: entry.mode, data });
          }
          files++;
          break;
        }
      }
    }
    return { files, bytes };
  }

  addFile(path: string, data: Buffer, mode: number): void {
    this.entries.set(path, { path, type: "file", mode, data });
  }

  addDirectory(path: string, mode: number): void {
    this.entries.set(path, { path, type: "directory", mode });
  }

  addSymlink(path: string, target: string): void {
    this.entries.set(path, { path, type: "symlink", mode: 0o777, target });
  }

  addCharDevice(path: string, mode: number, major: number, minor: number): void {
    this.entries.set(path, { path, type: "chardev", mode, major, minor });
  }

  /** All entries, with any missing parent directory added (the kernel's unpacker needs parents first). */
  toEntries(): CpioEntry[] {
    for (const path of [...this.entries.keys()]) {
      for (const parent of parentsOf(path)) {
        if (!this.entries.has(parent))
          this.entries.set(parent, { path: parent, type: "directory", mode: 0o755 });
      }
    }
    // A hard link whose target a later package replaced by a non-file must carry its own data.
    for (const entry of this.entries.values()) {
      if (entry.type === "hardlink" && this.entries.get(entry.target ?? "")?.type !== "file") {
        const data = this.linkBodies.get(entry.path) ?? Buffer.alloc(0);
        this.entries.set(entry.path, { path: entry.path, type: "file", mode: entry.mode, data });
      }
    }
    return [...this.entries.values()];
  }

  /** Bytes of file content (hard links counted once). */
  contentSize(): number {
    let total = 0;
    for (const entry of this.entries.values()) if (entry.type === "file") total += entry.data?.length ?? 0;
    return total;
  }
}
