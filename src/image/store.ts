import { createHash, randomBytes } from "node:crypto";
import { mkdir, open, readdir, readFile, rename, rm, stat, writeFile } from "node:fs/promises";
import { join } from "node:path";
import type { NixSystem } from "../config/config.js";
import { LinuxBuilderError } from "../errors.js";
import { directorySize } from "../fs/directory-size.js";
import { readFileOr } from "../fs/read-file-or.js";
import { writeFileAtomic } from "../fs/write-file-atomic.js";
import { parseJsonFormat } from "../json.js";
import { type Lock, parseLock } from "./lock.js";
import { type ImageManifest, manifestSchema } from "./manifest.js";

export interface NewImage {
  arch: "amd64" | "arm64";
  suite: string;
  nixSystem: string;
  kernelVersion: string;
  kernel: Buffer;
  initrd: Buffer;
  initrdUncompressedSize: number;
  lockText: string;
  inputs: string;
  modules: string[];
  packageCount: number;
  emulators: NixSystem[];
  caFingerprints: string[];
}

export interface StoredImage {
  readonly manifest: ImageManifest;
  readonly directory: string;
}

const sha256 = (data: Buffer | string) => createHash("sha256").update(data).digest("hex");

/** Writes `data` to a new file in one request, hashing it on this thread meanwhile. */
async function writeHashed(path: string, data: Buffer): Promise<{ size: number; sha256: string }> {
  const handle = await open(path, "wx", 0o644);
  try {
    const written = (async () => {
      for (let at = 0; at < data.length; )
        at += (await handle.write(data, at, data.length - at)).bytesWritten;
    })();
    const hash = sha256(data);
    await written;
    return { size: data.length, sha256: hash };
  } finally {
    await handle.close();
  }
}

/**
 * Composed images, each in a directory named by a hash of its contents:
 * `<images>/<suite>-<arch>-<hash>/{kernel,initrd,lock.json,manifest.json}`, and one pointer file per
 * architecture, `current-<arch>`, naming the image `run` and `image info` use by default.
 */
export class ImageStore {
  constructor(readonly root: string) {}

  async add(image: NewImage): Promise<StoredImage> {
    await mkdir(this.root, { recursive: true });
    // Written in a temporary directory and renamed: an image directory is complete or absent.
    const temp = join(this.root, `.tmp-${randomBytes(6).toString("hex")}`);
    await mkdir(temp);
    try {
      // The two large files are hashed while the kernel writes them.
      const [kernel, initrd] = await Promise.all([
        writeHashed(join(temp, "kernel"), image.kernel),
        writeHashed(join(temp, "initrd"), image.initrd),
      ]);
      await writeFile(join(temp, "lock.json"), image.lockText, { mode: 0o644 });
      const lock = {
        file: "lock.json",
        size: Buffer.byteLength(image.lockText),
        sha256: sha256(image.lockText),
      };
      const id = `${image.suite}-${image.arch}-${sha256(`${kernel.sha256}\n${initrd.sha256}\n${lock.sha256}\n`).slice(0, 16)}`;
      const manifest: ImageManifest = {
        format: 1,
        id,
        arch: image.arch,
        suite: image.suite,
        nixSystem: image.nixSystem,
        kernelVersion: image.kernelVersion,
        kernel: { file: "kernel", ...kernel },
        initrd: { file: "initrd", ...initrd, uncompressedSize: image.initrdUncompressedSize },
        lock,
        inputs: image.inputs,
        modules: image.modules,
        packageCount: image.packageCount,
        emulators: image.emulators,
        caFingerprints: image.caFingerprints,
      };
      await writeFile(join(temp, "manifest.json"), `${JSON.stringify(manifest, null, 2)}\n`, { mode: 0o644 });
      const directory = join(this.root, id);
      await rm(directory, { recursive: true, force: true });
      await rename(temp, directory);
      return { manifest, directory };
    } finally {
      await rm(temp, { recursive: true, force: true });
    }
  }

  async get(id: string): Promise<StoredImage> {
    if (!/^[a-z0-9-]+$/.test(id)) {
      throw new LinuxBuilderError("image.not-found", `No image named ${id}`, {
        hint: "Run `linux-builder image list` to see the images.",
      });
    }
    const directory = join(this.root, id);
    let text: string;
    try {
      text = await readFile(join(directory, "manifest.json"), "utf8");
    } catch {
      throw new LinuxBuilderError("image.not-found", `No image named ${id} in ${this.root}`, {
        hint: "Run `linux-builder image list` to see the images, or `linux-builder image build` to make one.",
      });
    }
    const damaged = (why: string) =>
      new LinuxBuilderError(
        "image.damaged",
        `The image ${id} is damaged: ${join(directory, "manifest.json")} ${why}`,
        {
          hint: `Remove it (rm -r ${directory}) and build it again.`,
        },
      );
    const manifest = parseJsonFormat(manifestSchema, text, {
      syntax: (reason) => damaged(`is not JSON (${reason})`),
      invalid: (field, message) => damaged(`has a bad field ${field}: ${message}`),
    });
    return { manifest, directory };
  }

  /** Checks the image's files against its manifest. */
  async verify(image: StoredImage): Promise<boolean> {
    for (const ref of [image.manifest.kernel, image.manifest.initrd, image.manifest.lock]) {
      const data = await readFile(join(image.directory, ref.file)).catch(() => undefined);
      if (data === undefined || data.length !== ref.size || sha256(data) !== ref.sha256) return false;
    }
    return true;
  }

  /**
   * Whether the image's files are all there at their sizes: what `start` checks (hashing 140 MiB
   * cost 0.17 s a start); `image info` and composing check the hashes.
   */
  async looksIntact(image: StoredImage): Promise<boolean> {
    for (const ref of [image.manifest.kernel, image.manifest.initrd, image.manifest.lock]) {
      const info = await stat(join(image.directory, ref.file)).catch(() => undefined);
      if (info === undefined || info.size !== ref.size) return false;
    }
    return true;
  }

  /** The image's lock.json, parsed; a missing or damaged one is an error naming the file. */
  async readLock(image: StoredImage): Promise<Lock> {
    const path = join(image.directory, "lock.json");
    const bytes = await readFileOr(
      path,
      (error) =>
        new LinuxBuilderError(
          "image.damaged",
          `The image ${image.manifest.id} is damaged: cannot read ${path} (${(error as NodeJS.ErrnoException).code ?? error})`,
          { hint: `Remove it (rm -r ${image.directory}) and build it again.` },
        ),
    );
    return parseLock(bytes.toString("utf8"), path);
  }

  async list(): Promise<StoredImage[]> {
    const names = await readdir(this.root).catch(() => [] as string[]);
    const images: StoredImage[] = [];
    for (const name of names.sort()) {
      if (name.startsWith(".") || name.startsWith("current-")) continue;
      const image = await this.get(name).catch(() => undefined);
      if (image !== undefined) images.push(image);
    }
    return images;
  }

  async findByInputs(inputs: string): Promise<StoredImage | undefined> {
    for (const image of await this.list()) {
      if (image.manifest.inputs === inputs && (await this.verify(image))) return image;
    }
    return undefined;
  }

  async setCurrent(arch: string, id: string): Promise<void> {
    await writeFileAtomic(join(this.root, `current-${arch}`), `${id}\n`, 0o644);
  }

  async currentId(arch: string): Promise<string | undefined> {
    const text = await readFile(join(this.root, `current-${arch}`), "utf8").catch(() => undefined);
    return text?.trim() || undefined;
  }

  /** The current image of `arch`, if there is one and its manifest reads (doctor's view: never an error). */
  async currentOrNone(arch: string): Promise<StoredImage | undefined> {
    const id = await this.currentId(arch);
    return id === undefined ? undefined : await this.get(id).catch(() => undefined);
  }

  /** Removes images other than the current ones (or all of them). Returns what it removed and the bytes freed. */
  async prune(options: { all: boolean }): Promise<{ removed: string[]; bytes: number }> {
    const keep = new Set<string>();
    if (!options.all) {
      for (const arch of ["amd64", "arm64"]) {
        const id = await this.currentId(arch);
        if (id !== undefined) keep.add(id);
      }
    }
    const removed: string[] = [];
    let bytes = 0;
    for (const name of await readdir(this.root).catch(() => [] as string[])) {
      if (name.startsWith("current-")) {
        if (options.all) await rm(join(this.root, name), { force: true });
        continue;
      }
      if (keep.has(name)) continue;
      bytes += await directorySize(join(this.root, name));
      await rm(join(this.root, name), { recursive: true, force: true });
      removed.push(name);
    }
    return { removed, bytes };
  }
}
