import { z } from "zod";

/**
 * Every error code a user (or a script reading `--json`) can meet, with what it means. The codes are
 * stable; README.md's "Error codes" section is generated from this table (a unit test keeps them
 * equal), and `LinuxBuilderError` takes only these, so a mistyped code does not compile.
 */
export const ERROR_CODES = {
  "archive.ar": "a .deb's outer ar archive is malformed",
  "archive.compression": "a compressed member (xz, zstd, gzip) is corrupt or truncated",
  "archive.cpio": "a cpio archive (the image's initrd) is malformed",
  "archive.deb": "a .deb cannot be read or is not a Debian package",
  "archive.tar": "a tar member of a .deb is malformed",
  "cache.download": "a package could not be downloaded into the cache (after retries)",
  "cache.hash-mismatch": "a download's SHA-256 differs from the signed index's",
  "cache.size-mismatch": "a download's size differs from the signed index's",
  "config.ca-certificates": "the CA certificates file (caCertificates) is missing, empty or not PEM",
  "config.disk-shrink": "diskGiB is smaller than the builder's disk, which is never shrunk",
  "config.invalid": "a setting in the config file or the flags is unknown or out of range",
  "config.syntax": "the config file is not JSON",
  "debian.control-invalid": "a package's control data is malformed",
  "debian.index-hash-mismatch": "a Packages index differs from the hash the signed Release gives",
  "debian.index-invalid": "a Packages index is malformed",
  "debian.index-missing": "the signed Release lists no Packages index for the architecture",
  "debian.inrelease-bad-signature": "the mirror's InRelease signature does not verify",
  "debian.inrelease-key-expired": "the key that signed InRelease has expired",
  "debian.inrelease-key-unusable": "the key that signed InRelease cannot sign (revoked, or not for signing)",
  "debian.inrelease-not-yet-valid": "InRelease was signed in the future (check the clock)",
  "debian.inrelease-unknown-key": "InRelease is signed by a key not in Debian's archive keyring",
  "debian.inrelease-unsigned": "the mirror's InRelease is not signed",
  "debian.keyring-invalid": "the embedded Debian archive keyring cannot be read",
  "debian.keyring-missing": "a keyring file (Debian's embedded one, or one given) cannot be read",
  "debian.relation-invalid": "a package's Depends (or similar) field is malformed",
  "debian.release-arch": "the suite has no packages for the architecture",
  "debian.release-expired": "the Release file's Valid-Until has passed (see --no-check-valid-until)",
  "debian.release-invalid": "the Release file is malformed",
  "debian.release-suite": "the Release file is signed for another suite",
  "debian.unresolvable": "the guest's packages' dependencies cannot be satisfied from the suite",
  "debian.version-invalid": "a Debian version string is malformed",
  "fs.EACCES": "permission denied on a file or folder",
  "fs.EDQUOT": "the disk quota is exceeded",
  "fs.EISDIR": "a folder was given where a file was needed",
  "fs.ENOENT": "no such file or folder",
  "fs.ENOSPC": "the disk is full",
  "fs.ENOTDIR": "a part of a path is not a folder",
  "fs.EPERM": "operation not permitted",
  "fs.EROFS": "the file system is read-only",
  "guest.parameters": "a boot parameter for the guest has a value /init cannot take (a bug in the backend)",
  "image.conflict": "two packages' files clash in the image",
  "image.damaged": "an image's files do not match its manifest",
  "image.none": "there is no image for the architecture yet",
  "image.not-found": "no image has the given id",
  "image.unpack": "a cached package could not be unpacked into the image",
  "image.unresolved-library": "a program in the image needs a shared library that is not in it",
  "install.builders-override": "nix.conf's builders setting hides the machines file install writes",
  "install.changed": "a host file changed while install or uninstall ran; nothing was changed",
  "install.damaged-block": "a file's linux-builder block was edited by hand and cannot be replaced safely",
  "install.failed": "a host file could not be changed; what was done was put back",
  "install.machines-line": "the machines file has a line Nix cannot read",
  "install.path": "the key's path cannot be written in Nix's machines file",
  "install.plan": "apply-host-plan was given no plan, or one it does not understand",
  "install.read-only": "a host file install must change cannot be written",
  "install.registry":
    "the record of installed builders (installed-builders.json) is not JSON or not its format",
  "install.service": "a value of the service (launchd plist, systemd unit) holds a control character",
  "install.sudo": "the privileged step (through sudo) failed",
  "install.sudo-cancelled": "the privileged step was cancelled; nothing was changed",
  "install.sudo-refused": "sudo did not run the privileged step (a wrong password?); nothing was changed",
  "kernel.missing": "the kernel package holds no kernel image",
  "kernel.module": "a kernel module cannot be read",
  "kernel.module-missing": "a kernel module the guest needs is not in the kernel package",
  "lock.arch": "the lock is for another architecture than --arch",
  "lock.incomplete": "the lock lacks a package the image needs",
  "lock.invalid": "a lock file has a missing or malformed field",
  "lock.read": "the lock file given to --lock cannot be read",
  "lock.syntax": "a lock file is not JSON",
  "net.fetch": "a download failed (no network, DNS, TLS)",
  "net.http-status": "the mirror answered with an HTTP error",
  "qmp.connect": "QEMU's control socket (QMP) does not answer",
  "usage.arch": "--arch is not amd64 or arm64",
  "usage.escape": "--escape is not a control key",
  "usage.lock": "--lock was combined with a flag that contradicts it",
  "usage.mirror": "--mirror is not an http(s) URL",
  "usage.number": "a flag that takes a whole number was given something else",
  "usage.package": "--extra-packages names something that is not a Debian package name",
  "service.failed": "the service could not do what was asked (its log says why)",
  "service.protocol":
    "the service answered something this linux-builder does not understand (another version)",
  "service.running": "a `linux-builder serve` owns the builder's port (run cannot boot another)",
  "service.unresponsive": "the service's control socket did not answer",
  "vm.arch": "the image is for another architecture than the config",
  "vm.attached": "the builder runs attached to `run`'s terminal, which has its console",
  "vm.attached-unsupported": "the VM backend cannot give its console to this terminal (`run`); use `start`",
  "vm.cancelled": "the start was cancelled (Ctrl-C); the VM it booted was stopped",
  "vm.console": "the builder's console socket cannot be reached",
  "vm.died": "QEMU exited while the builder was booting",
  "vm.gc": "garbage collection on the builder failed",
  "vm.guest-failed": "the guest's boot failed (its console says why)",
  "vm.kernel-crashed": "the guest's kernel crashed while booting (after one more try)",
  "vm.not-ready": "the builder runs but was not ready in time",
  "vm.port-privileged": "the configured port needs privileges",
  "vm.port-taken": "another program listens on the configured port",
  "vm.qemu-failed": "QEMU could not be started",
  "vm.running": "the builder is already running (run cannot attach to it)",
  "vm.starting": "another linux-builder is starting the builder",
  "vm.state-path": "the state folder's path cannot be given to ssh",
  "vm.still-starting": "another linux-builder was still starting the builder when the wait ran out",
  "vm.stopped": "the builder is not running",
} as const satisfies Record<string, string>;

export type ErrorCode = keyof typeof ERROR_CODES;

export function isErrorCode(value: string): value is ErrorCode {
  return Object.hasOwn(ERROR_CODES, value);
}

/**
 * One base error for everything a user can act on. `code` is stable for scripts and `--json`;
 * `hint` says what to do. The CLI prints these without a stack trace; anything else is a bug.
 * Subclasses exist only where a caller branches on the kind (their name is their class's).
 */
export class LinuxBuilderError extends Error {
  readonly code: ErrorCode;
  readonly hint: string | undefined;

  constructor(code: ErrorCode, message: string, options: { hint?: string; cause?: unknown } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    this.hint = options.hint;
  }
}

export function isLinuxBuilderError(error: unknown): error is LinuxBuilderError {
  return error instanceof LinuxBuilderError;
}

/** A user error as `--json` prints it on stdout (and as the root half of install reports it). */
export const errorReportSchema = z
  .object({
    error: z.object({ code: z.string(), message: z.string(), hint: z.string().nullable() }).strict(),
  })
  .strict();

export type ErrorReport = z.infer<typeof errorReportSchema>;

export function errorReport(code: ErrorCode, message: string, hint: string | undefined): ErrorReport {
  return { error: { code, message, hint: hint ?? null } };
}
