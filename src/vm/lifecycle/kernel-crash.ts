import { LinuxBuilderError } from "../../errors.js";

/** The guest's kernel crashed while booting (an Oops, which oops=panic turns into the VM's end). */
export class KernelCrashedError extends LinuxBuilderError {
  constructor(crash: string) {
    super("vm.kernel-crashed", `The builder's kernel crashed while booting (${crash})`, {
      hint: "`linux-builder logs` shows what the guest printed.",
    });
    this.name = "KernelCrashedError";
  }
}

/**
 * Boots, and once more if the kernel crashed while booting: QEMU 7.2's multi-threaded TCG
 * occasionally loses a race with the kernel patching its own code early in boot (an int3 Oops, about
 * 1 boot in 15 on this 2-core host; oops=panic turns it into QEMU exiting). A crash is either thrown
 * (a detached start waits for ready) or told by `crashed` from the boot's result (an attached run
 * ends normally); `onRetry` hears the crash before the second boot.
 */
export async function bootWithCrashRetry<T>(
  boot: (attempt: 1 | 2) => Promise<T>,
  crashed: (result: T) => boolean,
  onRetry: (crash: KernelCrashedError | undefined) => void,
): Promise<T> {
  try {
    const result = await boot(1);
    if (!crashed(result)) return result;
    onRetry(undefined);
  } catch (error) {
    if (!(error instanceof KernelCrashedError)) throw error;
    onRetry(error);
  }
  return boot(2);
}
