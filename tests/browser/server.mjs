// Starts a real `tessera serve` on a free loopback port for a browser test and stops it after.
import { spawn } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';

const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../..');

// `extraArgs` go after the defaults, e.g. `['--config', file]` (flags override the file).
// `listen`: the address to listen on (default a free loopback port the server picks; a cluster
// node needs its port known before it starts, since its node URL is made from it). `env`: more
// environment variables for the server (e.g. its RUST_LOG).
export async function startServer(extraArgs = [], { listen = '127.0.0.1:0', env = {} } = {}) {
  const bin = process.env.TESSERA_BIN || path.join(root, 'target/debug/tessera');
  const child = spawn(bin, ['serve', '--listen', listen, '--database', ':memory:', ...extraArgs], {
    cwd: root,
    env: { ...process.env, RUST_LOG: process.env.RUST_LOG || 'info', ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  const base = await new Promise((resolve, reject) => {
    const onData = (chunk) => {
      output += chunk;
      const m = output.match(/listening addr=(127\.0\.0\.1:\d+)/);
      if (m) resolve(`http://${m[1]}`);
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => reject(new Error(`server exited (${code}) before listening:\n${output}`)));
  });
  const exited = () => child.exitCode !== null || child.signalCode !== null;
  return {
    base,
    log: () => output,
    stop: () => new Promise((resolve) => {
      if (exited()) { resolve(); return; }
      child.once('exit', resolve);
      child.kill('SIGINT');
    }),
    /// Sends `signal` (e.g. SIGKILL: nothing flushed) and resolves once the process is gone.
    kill: (signal = 'SIGKILL') => new Promise((resolve) => {
      if (exited()) { resolve(); return; }
      child.once('exit', resolve);
      child.kill(signal);
    }),
  };
}

/// Polls `fn` until it returns something truthy (returned), or fails after `timeoutMs` with the
/// tail of `server`'s log (rare failures are hard to chase without the server's side).
export async function waitUntil(server, fn, what, timeoutMs = 20000, intervalMs = 100) {
  const start = Date.now();
  let last;
  while (Date.now() - start < timeoutMs) {
    last = await fn();
    if (last) return last;
    await new Promise((r) => setTimeout(r, intervalMs));
  }
  const log = server.log().split('\n').filter((l) => !/remote_addr is empty|pingAllCandidates|remote_srtp_context/.test(l));
  console.error(`server log (last 80 lines):\n${log.slice(-80).join('\n')}`);
  throw new Error(`timed out waiting for ${what} (last: ${JSON.stringify(last)})`);
}
