import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdir, mkdtemp, readFile, rm, symlink, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { readDebControl, readDebData, readDebFiles } from "../../../../src/image/archive/deb.js";
import type { TarEntry } from "../../../../src/image/archive/tar.js";

const HAVE_DPKG_DEB = existsSync("/usr/bin/dpkg-deb");

const CONTROL = [
  "Package: hello-test",
  "Version: 1.0-1",
  "Architecture: amd64",
  "Maintainer: Nobody <nobody@example.org>",
  "Description: a test package",
  "",
].join("\n");

/** `ar rc`, or the same layout written by hand where binutils is missing. */
async function arCreate(archive: string, cwd: string, names: string[]): Promise<void> {
  if (existsSync("/usr/bin/ar")) {
    execFileSync("/usr/bin/ar", ["rc", archive, ...names], { cwd });
    return;
  }
  const parts = [Buffer.from("!<arch>\n")];
  for (const name of names) {
    const data = await readFile(join(cwd, name));
    const header = `${`${name}/`.padEnd(16)}${"0".padEnd(12)}${"0".padEnd(6)}${"0".padEnd(6)}${"644".padEnd(8)}${String(data.length).padEnd(10)}\`\n`;
    parts.push(Buffer.from(header, "latin1"), data, Buffer.from(data.length % 2 === 1 ? "\n" : ""));
  }
  await writeFile(archive, Buffer.concat(parts));
}

async function collect(entries: AsyncIterable<TarEntry>): Promise<TarEntry[]> {
  const result: TarEntry[] = [];
  for await (const entry of entries) result.push(entry);
  return result;
}

function summary(entries: TarEntry[]): string[] {
  return entries.map((e) =>
    [e.type, e.path, e.mode.toString(8), e.linkname ?? "", e.body?.toString("utf8") ?? ""].join(" "),
  );
}

const EXPECTED_DATA = [
  "directory usr 755  ",
  "directory usr/bin 755  ",
  "file usr/bin/hello 4755  #!/bin/sh\necho hello\n",
  "symlink usr/bin/hi 777 hello ",
  "directory usr/share 755  ",
  "directory usr/share/doc 755  ",
  "directory usr/share/doc/hello-test 755  ",
  "file usr/share/doc/hello-test/copyright 644  Public domain.\n",
];

describe("readDebData and readDebControl", () => {
  let dir = "";
  let arDeb = "";
  let dpkgDeb = "";

  before(async () => {
    dir = await mkdtemp(join(tmpdir(), "archive-deb-"));
    const pkg = join(dir, "pkg");
    await mkdir(join(pkg, "DEBIAN"), { recursive: true });
    await mkdir(join(pkg, "usr/bin"), { recursive: true });
    await mkdir(join(pkg, "usr/share/doc/hello-test"), { recursive: true });
    await writeFile(join(pkg, "DEBIAN/control"), CONTROL);
    await writeFile(join(pkg, "usr/bin/hello"), "#!/bin/sh\necho hello\n");
    await chmod(join(pkg, "usr/bin/hello"), 0o4755);
    await symlink("hello", join(pkg, "usr/bin/hi"));
    await writeFile(join(pkg, "usr/share/doc/hello-test/copyright"), "Public domain.\n");
    await chmod(join(pkg, "usr/share/doc/hello-test/copyright"), 0o644);
    for (const d of ["usr", "usr/bin", "usr/share", "usr/share/doc", "usr/share/doc/hello-test"]) {
      await chmod(join(pkg, d), 0o755);
    }

    // By hand, as dpkg-deb lays it out: debian-binary, control.tar.xz, data.tar.xz.
    const build = join(dir, "build");
    await mkdir(build);
    await writeFile(join(build, "debian-binary"), "2.0\n");
    const tar = (out: string, from: string, ...paths: string[]) =>
      execFileSync("tar", [
        "-C",
        from,
        "--sort=name",
        "--owner=0",
        "--group=0",
        "--xz",
        "-cf",
        out,
        ...paths,
      ]);
    tar(join(build, "control.tar.xz"), join(pkg, "DEBIAN"), "./control");
    tar(join(build, "data.tar.xz"), pkg, "--exclude=./DEBIAN", ".");
    arDeb = join(dir, "by-ar.deb");
    await arCreate(arDeb, build, ["debian-binary", "control.tar.xz", "data.tar.xz"]);

    dpkgDeb = join(dir, "by-dpkg.deb");
    if (HAVE_DPKG_DEB)
      execFileSync("dpkg-deb", ["--root-owner-group", "-Zzstd", "--build", pkg, dpkgDeb], {
        stdio: "ignore",
      });
  });
  after(async () => {
    await rm(dir, { recursive: true, force: true });
  });

  test("readDebFiles gives the regular files asked for, and only those", async () => {
    const files = await readDebFiles(arDeb, ["usr/bin/hello", "usr/bin/hi", "usr/bin/absent"]);
    assert.deepEqual(Object.keys(files), ["usr/bin/hello"]);
    assert.equal(files["usr/bin/hello"]?.toString("utf8"), "#!/bin/sh\necho hello\n");
  });

  test("reads the data entries of a .deb assembled with ar", async () => {
    assert.deepEqual(summary(await collect(readDebData(arDeb))), EXPECTED_DATA);
  });

  test("reads the data entries of a .deb built by dpkg-deb (zstd)", { skip: !HAVE_DPKG_DEB }, async () => {
    const entries = await collect(readDebData(dpkgDeb));
    // dpkg-deb sorts the same way GNU tar --sort=name does, but check as a set to not depend on it.
    assert.deepEqual(summary(entries).sort(), [...EXPECTED_DATA].sort());
  });

  test("reads the control file", async () => {
    assert.equal(await readDebControl(arDeb), CONTROL);
    if (HAVE_DPKG_DEB) assert.equal(await readDebControl(dpkgDeb), CONTROL);
  });

  test("rejects a file that is not a .deb, naming it", async () => {
    const notDeb = join(dir, "not.deb");
    await writeFile(notDeb, "just text\n");
    await assert.rejects(collect(readDebData(notDeb)), {
      code: "archive.ar",
      message: `Cannot read the .deb archive ${notDeb}: it does not start with the ar magic !<arch>`,
    });
  });

  test("rejects an unsupported format version", async () => {
    const build = join(dir, "v3");
    await mkdir(build);
    await writeFile(join(build, "debian-binary"), "3.0\n");
    await writeFile(join(build, "data.tar"), "");
    const deb = join(dir, "v3.deb");
    await arCreate(deb, build, ["debian-binary", "data.tar"]);
    await assert.rejects(collect(readDebData(deb)), {
      code: "archive.deb",
      message: `Cannot read the .deb archive ${deb}: it has the unsupported format version "3.0"`,
    });
    await assert.rejects(readDebControl(deb), { code: "archive.deb", message: /unsupported format version/ });
  });

  test("rejects a .deb without a data member", async () => {
    const build = join(dir, "build");
    const deb = join(dir, "no-data.deb");
    await arCreate(deb, build, ["debian-binary", "control.tar.xz"]);
    await assert.rejects(collect(readDebData(deb)), {
      code: "archive.deb",
      message: `Cannot read the .deb archive ${deb}: it has no data.tar member (members: debian-binary, control.tar.xz)`,
    });
  });

  test("a truncated data member is an error naming the .deb and the member", {
    timeout: 20_000,
  }, async () => {
    const build = join(dir, "build");
    const whole = await readFile(join(build, "data.tar.xz"));
    const cut = join(dir, "cut");
    await mkdir(cut);
    await writeFile(join(cut, "debian-binary"), "2.0\n");
    await writeFile(join(cut, "data.tar.xz"), whole.subarray(0, whole.length - 40));
    const deb = join(dir, "truncated.deb");
    await arCreate(deb, cut, ["debian-binary", "data.tar.xz"]);
    await assert.rejects(collect(readDebData(deb)), {
      code: "archive.compression",
      message: `Cannot read the .deb archive ${deb}: cannot decompress data.tar.xz: the xz data is truncated`,
    });
  });

  test("a missing file is an error naming it", async () => {
    const missing = join(dir, "missing.deb");
    await assert.rejects(collect(readDebData(missing)), {
      code: "archive.deb",
      message: new RegExp(`^Cannot read the \\.deb archive ${missing}: ENOENT`),
    });
  });
});
