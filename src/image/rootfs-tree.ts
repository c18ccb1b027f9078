import { LinuxBuilderError } from "../errors.js";
import type { CpioEntry } from "./archive/cpio.js";
import type { TarEntry } from "./archive/tar.js";
import { MERGED_USR_ALIASES, mergedUsrPath } from "./merged-usr.js";
import { rootOwnedMode } from "./root-owned-mode.js";

function parentsOf(path: string): string[] {
  const parts = path.split("/");
  return parts.slice(0, -1).map((_, i) => parts.slice(0, i + 1).join("/"));
}

/** Whether a path (merged-/usr) lies under one of `prefixes` (each ending in "/"), or is one of those directories. */
export function isExcludedPath(path: string, prefixes: readonly string[]): boolean {
  return prefixes.some((prefix) => path.startsWith(prefix) || `${path}/` === prefix);
}

/** A hard link as recorded: the entry it pointed at then, and that entry's content. */
interface HardLink {
  readonly target: CpioEntry;
  readonly data: Buffer;
}

/**
 * The guest's root file system being composed, in memory: a map from path to entry.
 * Packages are added in a fixed order, later files replace earlier ones at the same path (as our
 * overlay replaces package defaults), and the result is written out as a sorted cpio.
 */
export class RootfsTree {
  private readonly entries = new Map<string, CpioEntry>();
  /** What each hard link pointed at when it was added: if that file is later replaced, the link keeps the old content. */
  private readonly hardLinks = new Map<string, HardLink>();
  private readonly excluded: readonly string[];

  constructor(excludedPrefixes: readonly string[]) {
    this.excluded = excludedPrefixes;
    this.entries.set("usr", { path: "usr", type: "directory", mode: 0o755 });
    for (const alias of MERGED_USR_ALIASES) {
      this.entries.set(alias, { path: alias, type: "symlink", mode: 0o777, target: `usr/${alias}` });
      this.entries.set(`usr/${alias}`, { path: `usr/${alias}`, type: "directory", mode: 0o755 });
    }
  }

  isExcluded(path: string): boolean {
    return isExcludedPath(path, this.excluded);
  }

  has(path: string): boolean {
    return this.entries.has(path);
  }

  /** The content of a regular file in the tree, if it is one. */
  fileData(path: string): Buffer | undefined {
    const entry = this.entries.get(path);
    return entry?.type === "file" ? entry.data : undefined;
  }

  /** The regular files in the tree (hard links too), with their contents. */
  *files(): Generator<readonly [string, Buffer]> {
    for (const [path, entry] of this.entries) {
      if (entry.type === "file") yield [path, entry.data ?? Buffer.alloc(0)];
      else if (entry.type === "hardlink") yield [path, this.hardLinks.get(path)?.data ?? Buffer.alloc(0)];
    }
  }

  /**
   * Whether `path` names a regular file once symbolic links on the way are followed as the guest's
   * kernel would (relative to the link's directory, absolute from the root; at most 40 of them).
   */
  resolvesToFile(path: string): boolean {
    const pending = path.split("/").filter((part) => part !== "" && part !== ".");
    const resolved: string[] = [];
    let links = 0;
    while (pending.length > 0) {
      const part = pending.shift() as string;
      if (part === "..") {
        resolved.pop();
        continue;
      }
      const here = [...resolved, part].join("/");
      const entry = this.entries.get(here);
      if (entry === undefined) {
        // A parent no package ships is made a directory when the tree is written (toEntries).
        if (pending.length === 0) return false;
        resolved.push(part);
        continue;
      }
      if (entry.type === "symlink") {
        if (++links > 40) return false;
        const target = entry.target ?? "";
        if (target.startsWith("/")) resolved.length = 0;
        pending.unshift(...target.split("/").filter((p) => p !== "" && p !== "."));
        continue;
      }
      resolved.push(part);
      if (pending.length > 0 && entry.type !== "directory") return false;
      if (pending.length === 0) return entry.type === "file" || entry.type === "hardlink";
    }
    return false;
  }

  /** Adds all entries of one package's data.tar. `label` names the package in errors. */
  async addPackage(entries: AsyncIterable<TarEntry> | Iterable<TarEntry>): Promise<void> {
    // Bodies of this package's files by path, so a hard link to an excluded file still gets its content.
    const bodies = new Map<string, Buffer>();
    for await (const entry of entries) {
      if (entry.path === "") continue;
      const path = mergedUsrPath(entry.path);
      if (entry.type === "file") bodies.set(path, entry.body ?? Buffer.alloc(0));
      // The aliases are ours: a package's own bin/ or lib64 symlink is already here.
      if (MERGED_USR_ALIASES.includes(path)) continue;
      if (this.isExcluded(path)) continue;
      this.hardLinks.delete(path);
      const mode = rootOwnedMode(entry);
      switch (entry.type) {
        case "directory":
          // The first package to ship a directory sets its mode, as dpkg keeps an existing one.
          if (this.entries.get(path)?.type !== "directory")
            this.entries.set(path, { path, type: "directory", mode });
          break;
        case "symlink":
          this.entries.set(path, { path, type: "symlink", mode: 0o777, target: entry.linkname ?? "" });
          break;
        case "file":
          this.entries.set(path, { path, type: "file", mode, data: entry.body ?? Buffer.alloc(0) });
          break;
        case "hardlink": {
          const targetPath = mergedUsrPath(entry.linkname ?? "");
          const target = this.entries.get(targetPath);
          if (target?.type === "file") {
            this.entries.set(path, { path, type: "hardlink", mode: target.mode, target: targetPath });
            this.hardLinks.set(path, { target, data: target.data ?? Buffer.alloc(0) });
          } else {
            const data = bodies.get(targetPath) ?? Buffer.alloc(0);
            this.entries.set(path, { path, type: "file", mode, data });
          }
          break;
        }
      }
    }
  }

  addFile(path: string, data: Buffer, mode: number): void {
    this.hardLinks.delete(path);
    this.entries.set(path, { path, type: "file", mode, data });
  }

  addDirectory(path: string, mode: number): void {
    this.entries.set(path, { path, type: "directory", mode });
  }

  addSymlink(path: string, target: string): void {
    this.hardLinks.delete(path);
    this.entries.set(path, { path, type: "symlink", mode: 0o777, target });
  }

  addCharDevice(path: string, mode: number, major: number, minor: number): void {
    this.entries.set(path, { path, type: "chardev", mode, major, minor });
  }

  /**
   * All entries, with any missing parent directory added (the kernel's unpacker needs parents
   * first). A path under something that is not a directory (a package replaced a directory with a
   * file) is an error: the kernel could not unpack it.
   */
  toEntries(): CpioEntry[] {
    for (const path of [...this.entries.keys()]) {
      for (const parent of parentsOf(path)) {
        const existing = this.entries.get(parent);
        if (existing === undefined) {
          this.entries.set(parent, { path: parent, type: "directory", mode: 0o755 });
        } else if (existing.type !== "directory") {
          throw new LinuxBuilderError(
            "image.conflict",
            `Cannot compose the image: /${path} lies under /${parent}, which a package replaced by a ${existing.type}`,
            {
              hint: "Two packages of the guest disagree about this path; remove the extra package that ships it.",
            },
          );
        }
      }
    }
    // A hard link whose target was replaced since keeps the content it was made with.
    for (const [path, link] of this.hardLinks) {
      const entry = this.entries.get(path);
      if (entry?.type === "hardlink" && this.entries.get(entry.target ?? "") !== link.target) {
        this.entries.set(path, { path, type: "file", mode: entry.mode, data: link.data });
      }
    }
    return [...this.entries.values()];
  }
}
