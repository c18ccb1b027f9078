import * as openpgp from "openpgp";
import { LinuxBuilderError } from "../../errors.js";
import { checkValidUntil, parseRelease, type Release } from "./release.js";

export interface InReleaseSigner {
  /** Fingerprint of the primary key in the keyring, uppercase hex. */
  fingerprint: string;
  /** ID of the (sub)key that made the signature, uppercase hex, as gpg prints it. */
  keyId: string;
  /** Primary user ID of the key, e.g. "Debian Archive Automatic Signing Key (13/trixie) <ftpmaster@debian.org>". */
  userId: string;
}

export interface VerifiedInRelease {
  /** Parsed from the verified signed text only. */
  release: Release;
  /** The text the signatures cover, dash-unescaped: the only part of the file to trust. */
  signedText: string;
  /** The first valid signature from a keyring key. */
  signer: InReleaseSigner;
  /** Every valid signature from a keyring key (Debian signs with several archive keys). */
  signers: InReleaseSigner[];
}

export interface VerifyInReleaseOptions {
  /** Time at which signatures, keys and Valid-Until are checked. */
  now: Date;
  /** Refuse a Release whose Valid-Until has passed; false for snapshot mirrors (--no-check-valid-until). */
  checkValidUntil: boolean;
  /** Names the file in errors, e.g. "http://deb.debian.org/debian trixie InRelease". */
  source: string;
}

/**
 * Verifies a clearsigned InRelease against `keys` (load them with loadKeyring) and parses it.
 * One valid signature from a keyring key is enough, as with apt: Debian signs with several keys and a
 * host may know only some. OpenPGP.js's default config accepts Debian's RSA 4096 and Ed25519 keys
 * with SHA-256/512 and rejects SHA-1 message signatures, MD5, DSA and ElGamal, as current apt does.
 */
export async function verifyInRelease(
  armoredText: string,
  keys: readonly openpgp.PublicKey[],
  opts: VerifyInReleaseOptions,
): Promise<VerifiedInRelease> {
  const { source } = opts;
  let message: openpgp.CleartextMessage;
  try {
    message = await openpgp.readCleartextMessage({ cleartextMessage: armoredText });
  } catch (cause) {
    if (armoredText.includes("-----BEGIN PGP SIGNED MESSAGE-----")) {
      throw badSignature(source, `its signature block is malformed (${errorMessage(cause)})`, cause);
    }
    throw new LinuxBuilderError(
      "debian.inrelease-unsigned",
      `Cannot verify ${source}: it is not a clearsigned file.`,
      {
        hint: "Check that the mirror URL points at a Debian archive; an InRelease file must be OpenPGP clearsigned.",
        cause,
      },
    );
  }
  if (message.getSigningKeyIDs().length === 0) {
    throw new LinuxBuilderError(
      "debian.inrelease-unsigned",
      `Cannot verify ${source}: it carries no signature.`,
      {
        hint: "Check that the mirror URL points at a Debian archive; an InRelease file must be OpenPGP clearsigned.",
      },
    );
  }

  let result: openpgp.VerifyMessageResult<string>;
  try {
    // expectSigned makes verify throw unless at least one signature from `keys` is valid.
    result = await openpgp.verify({
      message,
      verificationKeys: [...keys],
      expectSigned: true,
      date: opts.now,
    });
  } catch (cause) {
    // Verify again without expectSigned to see why each signature failed.
    const diagnosis = await openpgp.verify({ message, verificationKeys: [...keys], date: opts.now });
    const outcomes = await Promise.all(diagnosis.signatures.map((s) => evaluate(s, keys, opts.now)));
    throw explain(outcomes, keys, opts, cause);
  }

  const outcomes = await Promise.all(result.signatures.map((s) => evaluate(s, keys, opts.now)));
  const signers = outcomes.flatMap((o) => ("signer" in o ? [o.signer] : []));
  const signer = signers[0];
  if (signer === undefined) throw explain(outcomes, keys, opts, undefined);

  // Only the verified data: text outside the signed part of the file is not covered by any signature.
  const signedText = result.data;
  const release = parseRelease(signedText, source);
  if (opts.checkValidUntil) checkValidUntil(release, opts.now, source);
  return { release, signedText, signer, signers };
}

type Failure =
  | { kind: "unknown-key"; keyId: string }
  | { kind: "bad-signature"; keyId: string; cause: unknown }
  | { kind: "not-yet-valid"; keyId: string; created: Date }
  | { kind: "key-expired"; keyId: string; expired: Date }
  | { kind: "key-unusable"; keyId: string; cause: unknown };

type Outcome = { signer: InReleaseSigner } | Failure;

type VerificationResult = openpgp.VerifyMessageResult["signatures"][number];

/**
 * One signature's verdict. OpenPGP.js checks the key's validity when the signature was made; like
 * apt (EXPKEYSIG), we also require the key to be valid `now`, so an expired or revoked key is refused.
 */
async function evaluate(
  signature: VerificationResult,
  keys: readonly openpgp.PublicKey[],
  now: Date,
): Promise<Outcome> {
  const keyId = signature.keyID.toHex().toUpperCase();
  const key = keys.find((k) => k.getKeys(signature.keyID).length > 0);
  if (key === undefined) return { kind: "unknown-key", keyId };

  try {
    await signature.verified;
  } catch (cause) {
    const created = (await signature.signature).packets[0]?.created;
    if (created instanceof Date && created.getTime() > now.getTime())
      return { kind: "not-yet-valid", keyId, created };
    return (await keyProblem(key, signature.keyID, keyId, now)) ?? { kind: "bad-signature", keyId, cause };
  }
  return (
    (await keyProblem(key, signature.keyID, keyId, now)) ?? {
      signer: await describeSigner(key, signature.keyID, now),
    }
  );
}

/** Why the signing (sub)key is not usable at `now`, or undefined if it is. */
async function keyProblem(
  key: openpgp.PublicKey,
  keyID: openpgp.KeyID,
  keyId: string,
  now: Date,
): Promise<Failure | undefined> {
  try {
    await key.getSigningKey(keyID, now);
    return undefined;
  } catch (keyError) {
    const expiries = [await key.getExpirationTime()];
    for (const k of key.getKeys(keyID)) {
      if (k !== key) expiries.push(await k.getExpirationTime(now));
    }
    const expired = expiries.find((e): e is Date => e instanceof Date && e.getTime() <= now.getTime());
    if (expired !== undefined) return { kind: "key-expired", keyId, expired };
    return { kind: "key-unusable", keyId, cause: keyError };
  }
}

/** The most telling failure wins when several signatures fail differently: tampering first. */
const PRIORITY: Failure["kind"][] = [
  "bad-signature",
  "not-yet-valid",
  "key-expired",
  "key-unusable",
  "unknown-key",
];

function explain(
  outcomes: Outcome[],
  keys: readonly openpgp.PublicKey[],
  opts: VerifyInReleaseOptions,
  verifyError: unknown,
): LinuxBuilderError {
  const { source, now } = opts;
  const failures = outcomes.filter((o): o is Failure => "kind" in o);
  const first = PRIORITY.map((kind) => failures.find((f) => f.kind === kind)).find((f) => f !== undefined);
  if (first === undefined) return badSignature(source, errorMessage(verifyError), verifyError);
  switch (first.kind) {
    case "bad-signature":
      return badSignature(source, `the signature by key ${first.keyId} does not match the file`, first.cause);
    case "not-yet-valid":
      return new LinuxBuilderError(
        "debian.inrelease-not-yet-valid",
        `Cannot verify ${source}: its signature by key ${first.keyId} was made at ${first.created.toISOString()}, after the current time ${now.toISOString()}.`,
        { hint: "Check the system clock." },
      );
    case "key-expired":
      return new LinuxBuilderError(
        "debian.inrelease-key-expired",
        `Cannot verify ${source}: the signing key ${first.keyId} expired on ${first.expired.toISOString()}.`,
        {
          hint: "Check the system clock, and update linux-builder (or the host's debian-archive-keyring) for current archive keys.",
        },
      );
    case "key-unusable":
      return new LinuxBuilderError(
        "debian.inrelease-key-unusable",
        `Cannot verify ${source}: the signing key ${first.keyId} cannot be used (${errorMessage(first.cause)}).`,
        {
          hint: "The key may be revoked or use a rejected algorithm; update linux-builder or the mirror's keyring.",
          cause: first.cause,
        },
      );
    case "unknown-key": {
      const ids = failures.filter((f) => f.kind === "unknown-key").map((f) => f.keyId);
      return new LinuxBuilderError(
        "debian.inrelease-unknown-key",
        `Cannot verify ${source}: it is signed only by keys that are not in the keyring (key ID ${ids.join(", ")}; the keyring has ${keys.length} keys).`,
        {
          hint: "Use a Debian mirror, or add the archive key that signs this mirror to the keyring; update linux-builder if Debian rotated its keys.",
        },
      );
    }
  }
}

async function describeSigner(
  key: openpgp.PublicKey,
  keyID: openpgp.KeyID,
  now: Date,
): Promise<InReleaseSigner> {
  let userId = key.getUserIDs()[0] ?? "";
  try {
    userId = (await key.getPrimaryUser(now)).user.userID?.userID ?? userId;
  } catch {
    // Keep the first user ID: a missing primary-user flag must not fail a verified file.
  }
  return { fingerprint: key.getFingerprint().toUpperCase(), keyId: keyID.toHex().toUpperCase(), userId };
}

function badSignature(source: string, why: string, cause: unknown): LinuxBuilderError {
  return new LinuxBuilderError("debian.inrelease-bad-signature", `Cannot verify ${source}: ${why}.`, {
    hint: "The file was modified or corrupted on the way; retry, or use another mirror. Do not skip this check.",
    cause,
  });
}

function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
