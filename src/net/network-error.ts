/** Why a download failed, in words: the system's reason (ECONNREFUSED, ENOTFOUND …) is in the error's `cause` (http-get.ts's HttpNetworkError). */
export function describeNetworkError(error: unknown): string {
  if (error instanceof Error) {
    const cause = (error as { cause?: unknown }).cause;
    if (cause instanceof Error && cause.message !== "") return cause.message;
    return error.message;
  }
  return String(error);
}
