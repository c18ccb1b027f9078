import { PackageIndex, parsePackagesIndex } from "../../../../src/image/debian/packages-index.js";

/** A Packages index from compact lines: "name version arch ; Field: value ; Field: value". */
export function index(lines: string[]): PackageIndex {
  const text = lines
    .map((line) => {
      const [head = "", ...fields] = line.split(" ; ");
      const [name, version, arch] = head.split(" ");
      return [
        `Package: ${name}`,
        `Version: ${version}`,
        `Architecture: ${arch}`,
        ...fields,
        `Filename: pool/${name}_${version}_${arch}.deb`,
        "Size: 1",
        `SHA256: ${"0".repeat(64)}`,
      ].join("\n");
    })
    .join("\n\n");
  return new PackageIndex(parsePackagesIndex(text, "test Packages"), {
    arch: "amd64",
    label: "test/main amd64",
  });
}
