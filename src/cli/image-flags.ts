import { LinuxBuilderError } from "../errors.js";
import { type Arch, DEFAULT_MIRROR, isArch } from "../image/guest/profile.js";

/** --arch's value as an architecture, or a usage error naming the choices. */
export function parseArch(value: string): Arch {
  if (!isArch(value)) {
    throw new LinuxBuilderError("usage.arch", `Unknown architecture "${value}" for --arch`, {
      hint: "Use amd64 (x86_64-linux) or arm64 (aarch64-linux).",
    });
  }
  return value;
}

/** --mirror's value: an http(s) URL, without a trailing slash. */
export function parseMirror(value: string): string {
  let url: URL;
  try {
    url = new URL(value);
  } catch {
    throw new LinuxBuilderError("usage.mirror", `The mirror "${value}" given to --mirror is not a URL`, {
      hint: `Use a Debian archive URL such as ${DEFAULT_MIRROR}.`,
    });
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") {
    throw new LinuxBuilderError(
      "usage.mirror",
      `The mirror "${value}" given to --mirror must be http:// or https://`,
    );
  }
  return value.replace(/\/+$/, "");
}

/** --extra-packages, repeatable: comma or space separated Debian package names. */
export function parsePackageList(value: string, previous: string[] = []): string[] {
  const names = value
    .split(/[\s,]+/)
    .map((name) => name.trim())
    .filter((name) => name !== "");
  for (const name of names) {
    if (!/^[a-z0-9][a-z0-9+.-]+$/.test(name)) {
      throw new LinuxBuilderError(
        "usage.package",
        `"${name}" given to --extra-packages is not a Debian package name`,
      );
    }
  }
  return [...previous, ...names];
}
