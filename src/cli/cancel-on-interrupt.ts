/**
 * Ctrl-C while `start` or `run` prepares the VM: `cancel` is aborted first, which kills a KVM probe
 * running beside the composition at once (a QEMU whose parent died would hang on where KVM hangs)
 * and removes its kernel file; then the process ends as Ctrl-C always ended it, unless
 * `endsProcess()` says the command handles it (a start cancelled once it boots). A second Ctrl-C
 * ends it whatever it does. Returns what removes the handler.
 */
export function cancelOnInterrupt(cancel: AbortController, endsProcess: () => boolean): () => void {
  const onInterrupt = () => {
    process.removeListener("SIGINT", onInterrupt);
    cancel.abort();
    if (endsProcess()) process.kill(process.pid, "SIGINT");
  };
  process.on("SIGINT", onInterrupt);
  return () => process.removeListener("SIGINT", onInterrupt);
}
