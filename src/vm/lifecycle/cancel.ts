import { LinuxBuilderError } from "../../errors.js";

/** Ends a start whose caller gave up (Ctrl-C): `what` says what it was doing. */
export function throwIfCancelled(signal: AbortSignal | undefined, what: string): void {
  if (signal?.aborted) throw new LinuxBuilderError("vm.cancelled", `Cancelled: ${what}`);
}
