import { LinuxBuilderError } from "../errors.js";
import { HttpNetworkError, type HttpResponse, httpGet } from "./http-get.js";
import { describeNetworkError } from "./network-error.js";

/** An InRelease file is small: a mirror that has not sent it whole within this long is stuck. */
const FETCH_TIMEOUT_MS = 60_000;

/** Fetches a small document (an InRelease file) whole, or fails within `timeoutMs`. */
export async function fetchBytes(url: string, what: string, timeoutMs = FETCH_TIMEOUT_MS): Promise<Buffer> {
  const deadline = new AbortController();
  const timer = setTimeout(
    () => deadline.abort(new HttpNetworkError(`no complete answer within ${timeoutMs / 1000} s`)),
    timeoutMs,
  );
  try {
    return await fetchWhole(url, what, deadline.signal);
  } finally {
    clearTimeout(timer);
  }
}

async function fetchWhole(url: string, what: string, signal: AbortSignal): Promise<Buffer> {
  const failed = (error: unknown) =>
    new LinuxBuilderError(
      "net.fetch",
      `Cannot download ${what} from ${url}: ${describeNetworkError(error)}`,
      {
        hint: "Check the network and the mirror (--mirror), or build from a lock file with a warm cache.",
        cause: error,
      },
    );
  let response: HttpResponse;
  try {
    response = await httpGet(url, signal);
  } catch (error) {
    throw failed(error);
  }
  if (response.status < 200 || response.status > 299) {
    response.discard();
    throw new LinuxBuilderError(
      "net.http-status",
      `Cannot download ${what} from ${url}: HTTP ${response.status}`,
      {
        hint:
          response.status === 404
            ? "Check the suite (--suite) and architecture (--arch)."
            : "Try again later.",
      },
    );
  }
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of response.body) chunks.push(chunk);
  } catch (error) {
    throw failed(error);
  }
  return Buffer.concat(chunks);
}
