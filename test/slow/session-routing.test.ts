/**
 * The guest's routing of the builder's ssh sessions (guest/rootfs/etc/ssh/sshd_config's
 * ForceCommand, and usr/lib/linux-builder/builder-session for the rest), as the user lives it, under
 * TCG: a build through exactly what install writes runs through a relay to the daemon's socket, not
 * a `nix-daemon --stdio` of its own, and the relay is the session's only process; an ssh-ng
 * session leaves nothing behind in the guest, whichever side ends it; every other command still
 * runs as sshd runs it (another `nix-daemon --stdio …` through the real binary, `linux-builder ssh`
 * with a command and as an interactive login shell, SFTP, Nix's ssh:// store).
 */
import assert from "node:assert/strict";
import { type ChildProcess, execFile, spawn } from "node:child_process";
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { after, before, describe, test } from "node:test";
import { promisify } from "node:util";
import { builderNames } from "../../src/nix/builders.js";
import { clientHello, parseDaemonHello } from "../../src/nix/daemon-handshake.js";
import { derivation, type InstalledBuilder, installedBuilder } from "../support/installed-builder.js";
import { spawnInPty } from "../support/pty.js";

const run = promisify(execFile);

/** The relay's command line in the guest's process list (busybox ps: PID USER COMMAND). */
const RELAY = /\/usr\/bin\/nc\.openbsd -N -U \/nix\/var\/nix\/daemon-socket\/socket/;

describe("the builder's ssh sessions: ssh-ng straight to the daemon's socket, the rest as asked (slow)", () => {
  let builder: InstalledBuilder;
  /** The installed alias, and ssh's options for it as Nix runs ssh for the machines line. */
  let alias: string;
  let sshOptions: string[];
  const sshTo = () => [...sshOptions, alias];

  before(async () => {
    builder = await installedBuilder({ name: "session-routing", cpus: 2, memoryMiB: 1024, diskGiB: 8 });
    await builder.cli("start");
    await builder.install();
    // Nix pins the host key from the machines line's last field (base64 of a known_hosts key).
    const names = builderNames(builder.port);
    alias = names.alias;
    const machines = await readFile(join(builder.nixConfDir, "machines"), "utf8");
    const line = machines.split("\n").find((entry) => entry.startsWith(`ssh-ng://builder@${alias} `));
    assert.ok(line, machines);
    const hostKey = Buffer.from(line.trim().split(" ").at(-1) ?? "", "base64").toString("utf8");
    const knownHosts = join(builder.home, "known_hosts");
    await writeFile(knownHosts, `${alias} ${hostKey}\n`);
    sshOptions = [
      "-F",
      join(builder.sshConfigDir, names.sshConfigFile),
      "-o",
      `UserKnownHostsFile=${knownHosts}`,
    ];
  });

  after(async () => {
    await builder?.cleanup();
  });

  /** The guest's processes, one line each, without the command that lists them. */
  const guestProcesses = async () => {
    const { stdout } = await builder.cli("ssh", "--", "ps -o pid,user,args");
    return stdout.split("\n").filter((line) => line.trim() !== "" && !/ps -o pid,user,args/.test(line));
  };
  const daemons = (processes: readonly string[]) =>
    processes.filter((line) => /\snix-daemon( |$)/.test(line));

  /** Polls the guest until no relay and no per-connection daemon is left; the last listing otherwise. */
  const nothingLeft = async (): Promise<string[]> => {
    let processes: string[] = [];
    for (let i = 0; i < 60; i++) {
      processes = await guestProcesses();
      if (!processes.some((line) => RELAY.test(line)) && daemons(processes).length === 1) return [];
      await new Promise((resolve) => setTimeout(resolve, 500));
    }
    return processes;
  };

  /** An ssh-ng session as Nix opens it: `ssh … ALIAS nix-daemon --stdio`, its stdin ours to end. */
  const openSession = () => {
    const session = spawn("ssh", [...sshTo(), "nix-daemon", "--stdio"], { stdio: ["pipe", "pipe", "pipe"] });
    let received = Buffer.alloc(0);
    session.stdout.on("data", (chunk: Buffer) => {
      received = Buffer.concat([received, chunk]);
    });
    const closed = new Promise<void>((resolve) => session.stdout.once("close", () => resolve()));
    const exited = new Promise<number | null>((resolve) => session.once("exit", (code) => resolve(code)));
    return { session, received: () => received, closed, exited };
  };

  const answered = async (session: { received: () => Buffer }, timeoutMs = 60_000) => {
    const deadline = Date.now() + timeoutMs;
    while (session.received().length < 16 && Date.now() < deadline) {
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
    return parseDaemonHello(session.received());
  };

  const kill = (session: ChildProcess) => {
    if (session.exitCode === null) session.kill("SIGKILL");
  };

  test("a build through what install writes; its session goes through the relay and leaves nothing", {
    timeout: 15 * 60_000,
  }, async () => {
    const built = await builder.nixBuild(derivation("lb-routed", "echo routed > $out"));
    assert.equal(await readFile(built.stdout.trim(), "utf8"), "routed\n");

    // While a session is open, the guest runs the relay for it, and no nix-daemon --stdio.
    const open = openSession();
    try {
      open.session.stdin.write(clientHello());
      assert.ok(await answered(open), `the daemon answered: ${open.received().toString("hex")}`);
      const during = await guestProcesses();
      assert.equal(
        during.filter((line) => RELAY.test(line) && /\sbuilder\s/.test(line)).length,
        1,
        during.join("\n"),
      );
      assert.ok(!during.some((line) => /nix-daemon --stdio/.test(line)), during.join("\n"));
      // The forced command's shell became the relay (exec): no shell or script waits beside it.
      assert.ok(!during.some((line) => /builder-session|sh -c \[/.test(line)), during.join("\n"));
      assert.equal(
        daemons(during).length,
        2,
        `the daemon and its worker for this session:\n${during.join("\n")}`,
      );

      // The host ends the session (its stdin's EOF): the relay and the daemon's worker end too.
      open.session.stdin.end();
      await open.closed;
      assert.equal(await open.exited, 0);
      assert.deepEqual(await nothingLeft(), []);
    } finally {
      kill(open.session);
    }
  });

  test("the daemon ends a session first (a protocol error): the relay ends with it, the host sees EOF", {
    timeout: 10 * 60_000,
  }, async () => {
    const open = openSession();
    try {
      // Not the worker protocol's magic: the daemon says why in its log and closes the connection.
      open.session.stdin.write(Buffer.from("garbage!"));
      // Our side stays open all along: the session ends because the daemon's side did.
      await open.closed;
      assert.deepEqual(await nothingLeft(), []);
    } finally {
      open.session.stdin.end();
      kill(open.session);
    }
  });

  test("everything else runs as sshd runs it", { timeout: 10 * 60_000 }, async () => {
    // Another nix-daemon --stdio command line goes to the real binary.
    const { stdout: version } = await run("ssh", [...sshTo(), "nix-daemon", "--stdio", "--version"]);
    assert.match(version, /^nix-daemon \(Nix\) 2\.\d+\.\d+$/m);
    // The guest's own nix-daemon by its path: the real one, which answers the handshake itself.
    const real = spawn("ssh", [...sshTo(), "/usr/bin/nix-daemon", "--stdio"], {
      stdio: ["pipe", "pipe", "pipe"],
    });
    try {
      let received = Buffer.alloc(0);
      real.stdout.on("data", (chunk: Buffer) => {
        received = Buffer.concat([received, chunk]);
      });
      real.stdin.write(clientHello());
      assert.ok(await answered({ received: () => received }), received.toString("hex"));
      const during = await guestProcesses();
      assert.ok(
        during.some((line) => /\/usr\/bin\/nix-daemon --stdio/.test(line)),
        during.join("\n"),
      );
      real.stdin.end();
    } finally {
      kill(real);
    }

    // A command through the CLI, with the shell's words and quoting.
    const { stdout: said } = await builder.cli(
      "ssh",
      "--",
      "echo",
      '"$(id -un) in $HOME"',
      "&&",
      "printf %s",
      "'a b'",
    );
    assert.equal(said, "builder in /home/builder\na b");

    // SFTP (scp's protocol): a forced command replaces sshd's internal one, the script runs the server.
    const file = join(builder.home, "sftp-sent");
    await writeFile(file, "through sftp\n");
    await run("scp", [...sshOptions, file, `${alias}:/tmp/sftp-sent`]);
    assert.equal((await builder.cli("ssh", "--", "cat", "/tmp/sftp-sent")).stdout, "through sftp\n");

    // Nix's ssh:// store: nix-store --serve --write, through the user's shell.
    const pinged = await run(
      "nix",
      ["--extra-experimental-features", "nix-command", "store", "ping", "--store", `ssh://builder@${alias}`],
      { env: { ...process.env, NIX_SSHOPTS: sshOptions.join(" ") } },
    );
    // Nix 2.8 prints it on stderr, later ones on stdout.
    assert.match(pinged.stdout + pinged.stderr, /^Store URL: ssh:\/\/builder@/m);

    // An interactive login: the login shell, /etc/profile's PATH (halt, poweroff, shutdown live in /usr/local/bin).
    const login = spawnInPty(
      [
        "node",
        "bin/linux-builder.js",
        "ssh",
        ...["--state-dir", builder.stateDir, "--port", String(builder.port)],
      ],
      { env: builder.env },
    );
    try {
      await login.waitFor(/builder@linux-builder:~\$ /, 60_000);
      login.write('echo "path=$PATH"\r');
      await login.waitFor(/^path=\/usr\/local\/bin:/m, 30_000);
      login.write("exit\r");
      assert.equal((await login.exited).code, 0);
    } finally {
      if (login.process.exitCode === null) await login.kill();
    }
  });
});
