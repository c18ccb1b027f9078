/** Why a fetch failed, in words: undici hides the system's reason (ECONNREFUSED, ENOTFOUND …) in `cause`. */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof Error && cause.message !== "") return cause.message;
    return error.message;
  }
  return String(error);
}
