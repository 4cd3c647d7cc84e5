// Debian's firefox-esr, headless, driven through geckodriver (WebDriver) by selenium-webdriver,
// for the browser tests. `launchFirefox()` starts geckodriver (built by scripts/deps.sh into a
// cache outside the tree, or wherever GECKODRIVER points) on a free loopback port, in a process
// group of its own, and opens one session, i.e. one page: a fresh profile in a temporary folder
// (HOME too) with fake camera and microphone, loopback ICE candidates and autoplay allowed; it
// works as root and in a loopback-only network namespace; with `netns`, geckodriver and Firefox
// run in a namespace of their own (weak-link-firefox.test.mjs). `quit()` ends the session and
// kills whatever is left of the group (geckodriver, firefox and its content processes), then
// removes the folder; the same happens if the test process exits without calling it, or dies (a
// watchdog shell in the group). Classic WebDriver has no init scripts: patch a page after `goto`, before
// the click that needs it. A second Firefox participant is a second `launchFirefox()` (~3 s).
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { Builder } from 'selenium-webdriver';
import firefox from 'selenium-webdriver/firefox.js';
import { launchChromium } from './client-helpers.mjs';

export const FIREFOX_BIN = process.env.FIREFOX_BIN || '/usr/bin/firefox-esr';

// The fake microphone's tone (a sine), Hz.
export const FIREFOX_FAKE_TONE_HZ = 1000;

/// Where geckodriver is: $GECKODRIVER, else scripts/deps.sh's cache.
export function geckodriverPath() {
  if (process.env.GECKODRIVER) return process.env.GECKODRIVER;
  const cache = process.env.XDG_CACHE_HOME || path.join(process.env.HOME || os.homedir(), '.cache');
  return path.join(cache, 'tessera/geckodriver/bin/geckodriver');
}

export const firefoxPrefs = {
  // Fake camera (a solid frame whose colour drifts) and microphone (a sine), no permission prompt.
  'media.navigator.streams.fake': true,
  'media.navigator.permission.disabled': true,
  // Without it Firefox gathers only its default route's address, and a loopback-only network
  // namespace has none: no candidate at all (seen with ESR 153). With it the page counts as
  // granted (host addresses are gathered, not only the default one)
  'media.navigator.permission.fake': true,
  // ... and with this one (both are needed): loopback addresses are gathered too.
  'media.peerconnection.ice.loopback': true,
  'media.navigator.audio.fake_frequency': FIREFOX_FAKE_TONE_HZ,
  // Autoplay with sound, without a gesture (the composite's <video autoplay>, Web Audio).
  'media.autoplay.default': 0,
  'media.autoplay.blocking_policy': 0,
  'media.autoplay.block-webaudio': false,
  // Audio output through Firefox's mock cubeb: with no sound card (none here, nor in CI) an
  // AudioContext stays `suspended` for good (resume() never settles), so nothing can analyse the
  // received audio. The mock runs the audio graph on its own clock.
  'media.cubeb.force_mock_context': true,
  // Nothing to reach in a closed network.
  'app.update.enabled': false,
  'browser.shell.checkDefaultBrowser': false,
  'datareporting.policy.dataSubmissionEnabled': false,
  'toolkit.telemetry.enabled': false,
  'network.captive-portal-service.enabled': false,
  'network.connectivity-service.enabled': false,
};

// Processes whose process group is `pgid` (from /proc), as [{pid, comm}].
export function processGroup(pgid) {
  const out = [];
  for (const entry of fs.readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    let stat;
    try { stat = fs.readFileSync(`/proc/${entry}/stat`, 'utf8'); } catch { continue; }
    // pid (comm) state ppid pgrp ...; comm may hold spaces and parentheses. Zombies are gone
    // but for their parent's wait.
    const close = stat.lastIndexOf(')');
    const fields = stat.slice(close + 2).split(' ');
    if (Number(fields[2]) === pgid && fields[0] !== 'Z') out.push({ pid: Number(entry), comm: stat.slice(stat.indexOf('(') + 1, close) });
  }
  return out;
}

const WATCHDOG = `node=$1 dir=$2; shift 2
"$@" & gd=$!
while kill -0 "$node" 2>/dev/null && kill -0 "$gd" 2>/dev/null; do sleep 0.5; done
trap '' TERM; kill -TERM 0; sleep 0.5; rm -rf "$dir"; kill -KILL 0`;

const live = new Set(); // cleanup functions of sessions not quit yet
process.on('exit', () => { for (const kill of live) kill(); });

/// Starts geckodriver and a headless Firefox session. Options: `prefs` (added to firefoxPrefs,
/// or overriding them), `args` (Firefox command-line arguments), `env` (added to Firefox's
/// environment), `timeoutMs` (for the start, default 30 s), `verbose` (geckodriver's trace log
/// kept in `log()`), `netns` (a network namespace, `ip netns`, to run geckodriver and so Firefox
/// in: Firefox's Marionette is on that namespace's loopback, where geckodriver reaches it) and
/// `host` (the address geckodriver listens on, default 127.0.0.1; with `netns`, one of that
/// namespace's addresses that this process can reach).
export async function launchFirefox({ prefs = {}, args = [], env = {}, timeoutMs = 30000, verbose = false, netns = null, host = '127.0.0.1' } = {}) {
  const bin = geckodriverPath();
  if (!fs.existsSync(bin)) throw new Error(`geckodriver not found at ${bin}: run scripts/deps.sh (or set GECKODRIVER)`);
  if (!fs.existsSync(FIREFOX_BIN)) throw new Error(`${FIREFOX_BIN} not found: run scripts/deps.sh (Debian's firefox-esr)`);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tessera-firefox-'));
  const home = path.join(dir, 'home');
  fs.mkdirSync(home);
  // geckodriver under a small shell, the leader of a process group of its own (geckodriver,
  // firefox and its children): the shell waits while this process and geckodriver live, and if
  // this process dies without quitting (killed, crashed), ends the whole group and removes the
  // folder. `quit()` ends the shell first (SIGTERM to the group).
  // `ip netns exec` execs geckodriver: the watchdog's child is geckodriver itself, in the group.
  const child = spawn('/bin/sh', ['-c', WATCHDOG, 'tessera-firefox', String(process.pid), dir,
    ...(netns ? ['ip', 'netns', 'exec', netns] : []), bin,
    '--port', '0', '--host', host, '--binary', FIREFOX_BIN, '--profile-root', dir,
    ...(verbose ? ['-vv'] : []),
  ], {
    detached: true,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      HOME: home, // as root, and nothing of a real user's
      XDG_CACHE_HOME: path.join(home, '.cache'),
      XDG_CONFIG_HOME: path.join(home, '.config'),
      TMPDIR: dir,
      MOZ_HEADLESS: '1',
      MOZ_CRASHREPORTER_DISABLE: '1',
      MOZ_DISABLE_AUTO_SAFE_MODE: '1',
      ...env,
    },
  });
  const pgid = child.pid;
  let output = '';
  const killGroup = () => {
    try { process.kill(-pgid, 'SIGKILL'); } catch { /* already gone */ }
  };
  const removeDir = () => fs.rmSync(dir, { recursive: true, force: true });
  const emergency = () => { killGroup(); removeDir(); };
  live.add(emergency);

  let driver;
  let caps;
  try {
    const port = await new Promise((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`geckodriver did not listen within ${timeoutMs} ms:\n${output}`)), timeoutMs);
      const onData = (chunk) => {
        output += chunk;
        const m = output.match(new RegExp(`Listening on ${host.replace(/\./g, '\\.')}:(\\d+)`));
        if (m) { clearTimeout(timer); resolve(Number(m[1])); }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (code) => { clearTimeout(timer); reject(new Error(`geckodriver exited (${code}):\n${output}`)); });
    });
    const options = new firefox.Options().addArguments('-headless', ...args);
    for (const [k, v] of Object.entries({ ...firefoxPrefs, ...prefs })) options.setPreference(k, v);
    driver = new Builder().forBrowser('firefox').setFirefoxOptions(options).usingServer(`http://${host}:${port}`).build();
    await withTimeout(driver.getSession(), timeoutMs, () => `the Firefox session did not start within ${timeoutMs} ms:\n${output}`);
    caps = await driver.getCapabilities();
  } catch (e) {
    emergency();
    live.delete(emergency);
    throw e;
  }

  let quitting;
  const api = {
    driver,
    /// geckodriver's and Firefox's output so far (Firefox's stdout/stderr go through geckodriver).
    log: () => output,
    version: caps.get('browserVersion'),
    pid: caps.get('moz:processID'),
    pgid,
    /// The processes still in the group (geckodriver, firefox, its content processes).
    processes: () => processGroup(pgid),
    goto: (url) => driver.get(url),
    url: () => driver.getCurrentUrl(),
    /// Runs `script` (a function or a function body) in the page with `args`; returns its value
    /// (a returned promise is awaited).
    executeScript: (script, ...args) => driver.executeScript(script, ...args),
    /// Runs `script` with a callback as its last argument; returns what is passed to it.
    executeAsyncScript: (script, ...args) => driver.executeAsyncScript(script, ...args),
    /// Playwright-style: `fn(arg)` in the page (`fn` a function, sent as its source: it sees
    /// nothing of this module), async or not; resolves with its value (JSON-like), rejects with
    /// the page's error and stack.
    evaluate: async (fn, arg) => {
      const r = await driver.executeScript(
        `return Promise.resolve().then(() => (${fn})(arguments[0])).then((value) => ({ value }), (e) => ({ error: e && e.stack ? String(e) + '\\n' + e.stack : String(e) }));`,
        arg);
      if (r && 'error' in r) throw new Error(`in Firefox: ${r.error}`);
      return r?.value;
    },
    /// Sets an input's (or textarea's) value as typed: input and change events fire.
    fill: (selector, text) => driver.executeScript((sel, text) => {
      const el = document.querySelector(sel);
      if (!el) throw new Error(`no ${sel}`);
      el.focus();
      el.value = text;
      el.dispatchEvent(new Event('input', { bubbles: true }));
      el.dispatchEvent(new Event('change', { bubbles: true }));
    }, selector, text),
    /// `element.click()` on the first match (no visibility check; a disabled button does nothing).
    /// For WebDriver's own pointer click: `driver.findElement(By.css(selector)).click()`.
    click: (selector) => driver.executeScript((sel) => {
      const el = document.querySelector(sel);
      if (!el) throw new Error(`no ${sel}`);
      el.click();
    }, selector),
    /// The first match's innerText, or null when there is none.
    text: (selector) => driver.executeScript((sel) => document.querySelector(sel)?.innerText ?? null, selector),
    /// Collects console errors and warnings, uncaught errors and unhandled rejections of the page
    /// as it is now (call after each `goto`); `consoleErrors()` returns them.
    watchConsole: () => driver.executeScript(() => {
      if (window.__consoleErrors) return;
      const errors = (window.__consoleErrors = []);
      for (const level of ['error', 'warn']) {
        const orig = console[level].bind(console);
        console[level] = (...a) => { errors.push(`${level}: ${a.map(String).join(' ')}`); orig(...a); };
      }
      window.addEventListener('error', (e) => errors.push(`uncaught: ${e.message} (${e.filename}:${e.lineno})`));
      window.addEventListener('unhandledrejection', (e) => errors.push(`unhandled rejection: ${e.reason && e.reason.stack || e.reason}`));
    }),
    consoleErrors: () => driver.executeScript(() => window.__consoleErrors || []).catch(() => []),
    /// Ends the session, then every process left in the group (geckodriver stays up after a
    /// session ends; a few Firefox helpers outlive the parent for a moment), and removes the
    /// profile and HOME. Resolves with what had to be killed: the processes still there 5 s
    /// after SIGTERM (normally none).
    quit: () => {
      quitting ??= (async () => {
        await withTimeout(driver.quit(), 10000, () => 'quit timed out').catch(() => {});
        const gone = async (ms) => {
          const start = Date.now();
          while (processGroup(pgid).length && Date.now() - start < ms) await new Promise((r) => setTimeout(r, 50));
          return processGroup(pgid);
        };
        try { process.kill(-pgid, 'SIGTERM'); } catch { /* all gone */ }
        const killed = await gone(5000);
        if (killed.length) {
          killGroup();
          await gone(2000);
        }
        removeDir();
        live.delete(emergency);
        return killed;
      })();
      return quitting;
    },
  };
  return api;
}

/// Headless Chromium (client-helpers.mjs's `launchChromium()`) and a Firefox session
/// (`launchFirefox(firefoxOptions)`), started together: `{ browser, ff }`. If either fails, the
/// other is closed and the error thrown.
export async function launchChromiumAndFirefox(firefoxOptions) {
  const [browser, ff] = await Promise.allSettled([launchChromium(), launchFirefox(firefoxOptions)]);
  if (browser.status === 'fulfilled' && ff.status === 'fulfilled') return { browser: browser.value, ff: ff.value };
  if (browser.status === 'fulfilled') await browser.value.close().catch(() => {});
  if (ff.status === 'fulfilled') await ff.value.quit();
  throw browser.status === 'rejected' ? browser.reason : ff.reason;
}

function withTimeout(promise, ms, message) {
  let timer;
  return Promise.race([
    Promise.resolve(promise).finally(() => clearTimeout(timer)),
    new Promise((_, reject) => { timer = setTimeout(() => reject(new Error(message())), ms); }),
  ]);
}
