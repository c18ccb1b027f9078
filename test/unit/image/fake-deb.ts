import { execFileSync } from "node:child_process";
import { link, mkdir, readFile, symlink, writeFile } from "node:fs/promises";
import { dirname, join } from "node:path";

/** What a fake package ships at a path: a file's content, or a link. */
export type FakeDebFile = string | Buffer | { symlink: string } | { hardlink: string };

/** An ar member: its 60-byte header, its data, padding to an even offset. */
function arMember(name: string, data: Buffer): Buffer {
  const header = `${`${name}/`.padEnd(16)}${"0".padEnd(12)}${"0".padEnd(6)}${"0".padEnd(6)}${"644".padEnd(8)}${String(data.length).padEnd(10)}\`\n`;
  return Buffer.concat([Buffer.from(header, "latin1"), data, Buffer.alloc(data.length % 2)]);
}

/**
 * A .deb in `dir` whose data.tar.xz holds `files` (in the order given, hard links after their
 * targets), tarred by the system's tar as root's files.
 */
export async function fakeDeb(dir: string, files: Record<string, FakeDebFile>): Promise<string> {
  const root = join(dir, "root");
  await mkdir(root, { recursive: true });
  for (const [path, what] of Object.entries(files)) {
    const at = join(root, path);
    await mkdir(dirname(at), { recursive: true });
    if (typeof what === "string" || Buffer.isBuffer(what)) await writeFile(at, what, { mode: 0o644 });
    else if ("symlink" in what) await symlink(what.symlink, at);
    else await link(join(root, what.hardlink), at);
  }
  const tar = (out: string, from: string) =>
    execFileSync("tar", ["--sort=name", "--owner=0", "--group=0", "--xz", "-cf", out, "-C", from, "."]);
  await mkdir(join(dir, "control"), { recursive: true });
  await writeFile(join(dir, "control", "control"), "Package: fake\n");
  tar(join(dir, "data.tar.xz"), root);
  tar(join(dir, "control.tar.xz"), join(dir, "control"));
  const deb = join(dir, "fake.deb");
  await writeFile(
    deb,
    Buffer.concat([
      Buffer.from("!<arch>\n"),
      arMember("debian-binary", Buffer.from("2.0\n")),
      arMember("control.tar.xz", await readFile(join(dir, "control.tar.xz"))),
      arMember("data.tar.xz", await readFile(join(dir, "data.tar.xz"))),
    ]),
  );
  return deb;
}
