import { casSourceText, type GuestCas } from "../ca-certificates.js";
import { type Check, check } from "./check.js";

/**
 * The CAs the guest will trust besides Debian's set (ca-certificates.ts): where they come from, or
 * why the caCertificates setting stops the next start.
 */
export function checkCaCertificates(
  facts: GuestCas | { readonly error: { readonly message: string; readonly hint: string | undefined } },
): Check {
  const name = "ca-certificates";
  if ("error" in facts) return check(name, "fail", facts.error.message, facts.error.hint);
  if (facts.warning !== undefined)
    return check(name, "warn", facts.warning, "Set caCertificates to a PEM file.");
  if (facts.count === 0 && facts.alreadyTrusted === undefined) return check(name, "ok", "Debian's set");
  return check(name, "ok", `Debian's set, and ${casSourceText(facts)}`);
}
