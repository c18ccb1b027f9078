/**
 * The CA bundle Debian's ca-certificates package makes when it is installed, made here from the
 * package's files instead of by its maintainer scripts (which need debconf, Perl and openssl).
 *
 * On a fresh install, its config script offers every *.crt under /usr/share/ca-certificates and
 * trusts them all (trust_new_crts defaults to yes); postinst writes /etc/ca-certificates.conf as
 * that list through `sort` (dpkg runs it in the C locale: byte order), and update-ca-certificates
 * concatenates the listed files in that order, each ending with a newline (`sed -e '$a\'`), into
 * /etc/ssl/certs/ca-certificates.crt (kept elsewhere here: CA_BUNDLE_PATH). Pure.
 */

/** Where the package keeps its certificates (no leading slash, as in a .deb's data). */
export const CA_CERTIFICATES_DIR = "usr/share/ca-certificates/";
/**
 * Where the guest keeps that bundle (Debian's is /etc/ssl/certs/ca-certificates.crt): outside
 * /etc/ssl/certs, which the guest's libcurl (GnuTLS) also loads as its CA directory on every TLS
 * connection, so a bundle there was parsed twice per connection (0.4 s more per HTTPS substituter
 * per build under TCG; each ssh-ng session is a new daemon worker, a new connection). The guest's
 * nix.conf names this path (ssl-cert-file); Nix binds it into fixed-output builds' sandboxes at
 * the conventional path.
 */
export const CA_BUNDLE_PATH = "etc/ssl/ca-certificates.crt";
/** The package whose certificates make the bundle. */
export const CA_CERTIFICATES_PACKAGE = "ca-certificates";

/** C-locale `sort`: by UTF-8 bytes. */
function byteOrder(a: string, b: string): number {
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b, "utf8"));
}

/**
 * The bundle from the package's certificate files, keyed by their path in the package (e.g.
 * "usr/share/ca-certificates/mozilla/ISRG_Root_X1.crt"); other paths are ignored, as the scripts
 * only look for *.crt files there.
 */
export function debianCaBundle(files: ReadonlyMap<string, Buffer>): Buffer {
  const listed = [...files.keys()]
    .filter((path) => path.startsWith(CA_CERTIFICATES_DIR) && path.endsWith(".crt"))
    .map((path) => path.slice(CA_CERTIFICATES_DIR.length))
    .sort(byteOrder);
  const parts: Buffer[] = [];
  for (const name of listed) {
    const data = files.get(CA_CERTIFICATES_DIR + name) as Buffer;
    if (data.length === 0) continue;
    parts.push(data);
    if (data[data.length - 1] !== 0x0a) parts.push(Buffer.from("\n"));
  }
  return Buffer.concat(parts);
}
