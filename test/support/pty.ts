/**
 * Runs a command on a real pseudo-terminal without native modules: util-linux `script` owns the pty
 * and copies between it and our pipes, so the command sees a terminal (isatty, raw mode, job
 * control) while the test reads everything it prints and types keys at it.
 */
import { type ChildProcessWithoutNullStreams, spawn } from "node:child_process";

/** A word for `sh -c`, single-quoted. */
export function shellQuote(word: string): string {
  return `'${word.replaceAll("'", `'\\''`)}'`;
}

export interface PtyExit {
  readonly code: number | null;
  readonly signal: NodeJS.Signals | null;
}

export interface PtySession {
  readonly process: ChildProcessWithoutNullStreams;
  /** Everything printed so far (stdout and stderr share the terminal). */
  output(): string;
  /** Types at the terminal: keys as bytes, e.g. "\r" for Enter, "\x01c" for Ctrl-a c. */
  write(keys: string): void;
  /** Resolves with the first match of `pattern` in the output from `from` on; rejects after `timeoutMs`. */
  waitFor(pattern: RegExp, timeoutMs: number, from?: number): Promise<RegExpExecArray>;
  readonly exited: Promise<PtyExit>;
  /** Ends the session: SIGKILL to `script` and, through the pty's hangup, SIGHUP to what runs there. */
  kill(): Promise<PtyExit>;
}

export function spawnInPty(
  argv: readonly string[],
  options: {
    env?: NodeJS.ProcessEnv;
    cwd?: string;
    /**
     * A command that runs `script` itself, e.g. the test user's `sudo -u USER -- env -i …`
     * (testUserCommand in test-user.ts): the terminal is then that user's, as when they log in.
     * Its environment must set TERM=vt100 itself when it clears ours.
     */
    runner?: readonly string[];
  } = {},
): PtySession {
  // -q: no "Script started" lines; -e: exit with the command's status; -f: flush at once;
  // /dev/null: no typescript file.
  const scriptArgv = ["script", "-qefc", argv.map(shellQuote).join(" "), "/dev/null"];
  const [command, ...args] = [...(options.runner ?? []), ...scriptArgv];
  const child = spawn(command ?? "script", args, {
    env: { ...(options.env ?? process.env), TERM: "vt100" },
    ...(options.cwd === undefined ? {} : { cwd: options.cwd }),
    stdio: ["pipe", "pipe", "pipe"],
    // Its own session: sudo in the runner then sees no terminal of ours to relay through a pty.
    detached: options.runner !== undefined,
  });
  let text = "";
  const waiters = new Set<() => void>();
  const append = (chunk: Buffer) => {
    text += chunk.toString("utf8");
    for (const wake of waiters) wake();
  };
  child.stdout.on("data", append);
  child.stderr.on("data", append);
  const exited = new Promise<PtyExit>((resolve) =>
    child.once("close", (code, signal) => {
      for (const wake of waiters) wake();
      resolve({ code, signal });
    }),
  );
  let done = false;
  void exited.then(() => {
    done = true;
  });
  return {
    process: child,
    output: () => text,
    write(keys) {
      child.stdin.write(keys);
    },
    waitFor(pattern, timeoutMs, from = 0) {
      return new Promise((resolve, reject) => {
        const check = () => {
          const match = new RegExp(pattern.source, pattern.flags.replace("g", "")).exec(text.slice(from));
          if (match) finish(() => resolve(match));
          else if (done)
            finish(() =>
              reject(new Error(`exited before ${pattern} appeared; output:\n${text.slice(-3000)}`)),
            );
        };
        const timer = setTimeout(
          () =>
            finish(() =>
              reject(new Error(`no ${pattern} within ${timeoutMs} ms; output:\n${text.slice(-3000)}`)),
            ),
          timeoutMs,
        );
        const finish = (settle: () => void) => {
          clearTimeout(timer);
          waiters.delete(check);
          settle();
        };
        waiters.add(check);
        check();
      });
    },
    exited,
    async kill() {
      if (!done && options.runner !== undefined) {
        // sudo passes SIGTERM on to `script` (a SIGKILL would leave it behind): the hangup follows.
        child.kill("SIGTERM");
        const killed = setTimeout(() => child.kill("SIGKILL"), 10_000);
        await exited;
        clearTimeout(killed);
      }
      if (!done) child.kill("SIGKILL");
      return exited;
    },
  };
}
