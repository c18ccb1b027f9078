import { constants, gzipSync } from "node:zlib";

// RFC 1952 header: ID1 ID2 CM FLG MTIME(4) XFL OS.
const MTIME_OFFSET = 4;
const XFL_OFFSET = 8;
const OS_OFFSET = 9;
/** XFL for the slowest, best compression (level 9). */
const XFL_MAXIMUM_COMPRESSION = 2;
const OS_UNIX = 3;

/**
 * Gzips at level 9 with a header that does not depend on the host: zlib writes the OS byte of the
 * platform it was built for (3 on Unix, 10 on Windows, 19 on macOS), so it is set to Unix, mtime to 0
 * and XFL to what level 9 means. The deflate stream itself depends only on the zlib Node bundles.
 */
export function gzipReproducible(buf: Buffer): Buffer {
  const out = gzipSync(buf, { level: constants.Z_BEST_COMPRESSION });
  out.writeUInt32LE(0, MTIME_OFFSET);
  out[XFL_OFFSET] = XFL_MAXIMUM_COMPRESSION;
  out[OS_OFFSET] = OS_UNIX;
  return out;
}
