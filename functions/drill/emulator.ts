import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/** The pinned moto server, installed into ./.venv by functions/drill/install-emulator.js. */
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const venvPython = join(root, '.venv', 'bin', 'python');

export interface MotoServer {
  readonly endpoint: string;
  readonly pid: number;
  /** Drops every resource in every account: each test starts from an empty AWS. */
  reset(): Promise<void>;
  stop(): Promise<void>;
}

/** A port the kernel says is free on loopback right now. */
export const freePort = (): Promise<number> =>
  new Promise((resolve, reject) => {
    const probe = createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const address = probe.address();
      probe.close(() =>
        typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port')),
      );
    });
  });

const waitUntilUp = async (endpoint: string, child: ChildProcess, output: () => string): Promise<void> => {
  const deadline = Date.now() + 30_000;
  while (Date.now() < deadline) {
    if (child.exitCode !== null) throw new Error(`moto server exited (${child.exitCode}):\n${output()}`);
    try {
      const response = await fetch(`${endpoint}/moto-api/`, { signal: AbortSignal.timeout(1_000) });
      if (response.ok) return;
    } catch {
      // not listening yet
    }
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`moto server did not answer at ${endpoint} within 30 s:\n${output()}`);
};

/** Starts moto's standalone server on a free 127.0.0.1 port; stop it with `stop()` (by its own PID). */
export const startMoto = async (): Promise<MotoServer> => {
  if (!existsSync(venvPython)) {
    throw new Error(
      'the local AWS emulator is not installed: run `npm run emulator:install` (npm test does)',
    );
  }
  const port = await freePort();
  const endpoint = `http://127.0.0.1:${port}`;
  // moto's own server app, served one request at a time (see moto_serial_server.py for why).
  const child = spawn(
    venvPython,
    [join(root, 'functions', 'drill', 'moto_serial_server.py'), '127.0.0.1', String(port)],
    {
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { ...process.env, MOTO_ALLOW_NONEXISTENT_REGION: 'false' },
    },
  );
  let tail = '';
  const keep = (chunk: Buffer) => {
    tail = (tail + chunk.toString()).slice(-4_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const pid = child.pid;
  if (pid === undefined) throw new Error('could not start the moto server');
  try {
    await waitUntilUp(endpoint, child, () => tail);
  } catch (error) {
    child.kill('SIGKILL');
    throw error;
  }
  return {
    endpoint,
    pid,
    async reset() {
      const response = await fetch(`${endpoint}/moto-api/reset`, { method: 'POST' });
      if (!response.ok) throw new Error(`moto reset failed: ${response.status}`);
    },
    stop: () =>
      new Promise<void>((resolve) => {
        if (child.exitCode !== null || child.signalCode !== null) return resolve();
        const killer = setTimeout(() => process.kill(pid, 'SIGKILL'), 5_000);
        child.once('exit', () => {
          clearTimeout(killer);
          resolve();
        });
        process.kill(pid, 'SIGTERM');
      }),
  };
};

/** Environment that points every AWS SDK client at the emulator, through the SDK's own configuration. */
export const emulatorEnvironment = (endpoint: string, region: string): Record<string, string> => ({
  AWS_ENDPOINT_URL: endpoint,
  AWS_REGION: region,
  AWS_ACCESS_KEY_ID: 'testing',
  AWS_SECRET_ACCESS_KEY: 'testing',
  AWS_SESSION_TOKEN: 'testing',
  // Keep the SDK from reading a developer's real profile or instance metadata.
  AWS_PROFILE: '',
  AWS_CONFIG_FILE: '/dev/null',
  AWS_SHARED_CREDENTIALS_FILE: '/dev/null',
  AWS_EC2_METADATA_DISABLED: 'true',
});
