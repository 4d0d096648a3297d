// Runs one notebook in JupyterLab as a person would, in Debian's Chromium driven by playwright-core.
//
//   node tests/browser/run_notebook.mjs URL SCREENSHOT [--kernel NAME] [--user-data-dir DIR]
//                                       [--timeout SECONDS] [--browser PATH]
//
// URL is the notebook's JupyterLab address with its token, e.g.
// http://127.0.0.1:8888/lab/tree/examples/quickstart.ipynb?token=abc. The script opens it in a
// fresh headless Chromium, picks kernel NAME (default prunekit) if JupyterLab asks for one, runs
// Run > Run All Cells, waits until every code cell has an execution count (no `[*]` left), waits
// for a chart (an <img> in an output) and a <table> in an output, saves the notebook and reads it
// back through the contents API, and writes a full-page screenshot to SCREENSHOT.
//
// It exits 0 when all of that happened with no error output; otherwise it prints one line that
// starts with "run_notebook: FAILED:" and says what went wrong, still writes the screenshot when it
// can, and exits 1 (2 for bad arguments). A watchdog ends it after --timeout seconds (default 75).

import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import { chromium } from "playwright-core";

// ---------------------------------------------------------------- arguments

function usage(msg) {
  console.error(`run_notebook: ${msg}`);
  console.error("usage: node tests/browser/run_notebook.mjs URL SCREENSHOT [--kernel NAME] " +
    "[--user-data-dir DIR] [--timeout SECONDS] [--browser PATH]");
  process.exit(2);
}

const positional = [];
const opts = { kernel: "prunekit", userDataDir: null, timeout: 75, browser: "/usr/bin/chromium" };
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--kernel") opts.kernel = next();
    else if (a === "--user-data-dir") opts.userDataDir = next();
    else if (a === "--timeout") opts.timeout = Number(next());
    else if (a === "--browser") opts.browser = next();
    else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 2) usage("expected URL and SCREENSHOT");
  if (!(opts.timeout > 0)) usage("--timeout must be a positive number of seconds");
}
const [notebookUrl, screenshotPath] = positional;

let url;
try {
  url = new URL(notebookUrl);
} catch {
  usage(`not a URL: ${notebookUrl}`);
}
const token = url.searchParams.get("token") || "";
const treeMarker = "/lab/tree/";
const treeAt = url.pathname.indexOf(treeMarker);
if (treeAt < 0) usage(`the URL must point at /lab/tree/<notebook>.ipynb: ${notebookUrl}`);
const baseUrl = url.origin + url.pathname.slice(0, treeAt);
const notebookPath = decodeURIComponent(url.pathname.slice(treeAt + treeMarker.length));

// The flags of docs: jupyter.md §11.6 (Playwright adds --headless itself for headless: true).
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];

// ---------------------------------------------------------------- helpers

const t0 = Date.now();
function log(msg) {
  console.log(`run_notebook: [${((Date.now() - t0) / 1000).toFixed(1)}s] ${msg}`);
}

class Failure extends Error {}
function fail(msg) {
  throw new Failure(msg);
}

function sleep(ms) {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function api(path, init = {}) {
  const sep = path.includes("?") ? "&" : "?";
  const res = await fetch(`${baseUrl}${path}${sep}token=${encodeURIComponent(token)}`, {
    ...init,
    signal: AbortSignal.timeout(10000),
  });
  if (!res.ok) fail(`GET ${path} answered HTTP ${res.status}: ${(await res.text()).slice(0, 300)}`);
  return res.json();
}

function contentsPath(p) {
  return "/api/contents/" + p.split("/").map(encodeURIComponent).join("/");
}

function codeCellsOf(nb) {
  return nb.cells.filter((c) => c.cell_type === "code");
}

// Everything about the notebook's state that the waits need, read in one evaluate().
async function pageState(page) {
  return page.evaluate(() => {
    const text = (el) => (el ? el.textContent.replace(/\s+/g, " ").trim() : "");
    const panel = document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden)");
    const root = panel || document;
    const prompts = [...root.querySelectorAll(".jp-CodeCell .jp-InputArea-prompt")].map(text);
    const errors = [
      ...root.querySelectorAll('.jp-RenderedText[data-mime-type="application/vnd.jupyter.stderr"]'),
    ].map((el) => text(el).slice(0, 600));
    const dialogs = [...document.querySelectorAll(".jp-Dialog")].map((d) => ({
      header: text(d.querySelector(".jp-Dialog-header")),
      body: text(d.querySelector(".jp-Dialog-body")).slice(0, 600),
      hasSelect: !!d.querySelector(".jp-Dialog-body select"),
    }));
    const indicator = root.querySelector(".jp-Notebook-ExecutionIndicator");
    const imgs = [...root.querySelectorAll(".jp-OutputArea-output img")];
    return {
      hasNotebook: !!root.querySelector(".jp-Notebook"),
      prompts,
      errors,
      dialogs,
      kernelStatus: indicator ? indicator.getAttribute("data-status") : null,
      kernelName: text(root.querySelector(".jp-KernelName")),
      images: imgs.length,
      imagesDecoded: imgs.filter((i) => i.complete && i.naturalWidth > 0).length,
      tables: root.querySelectorAll(".jp-OutputArea-output table").length,
      jsonTrees: root.querySelectorAll(".jp-OutputArea-output.jp-RenderedJSON, .jp-OutputArea-output .jp-RenderedJSON").length,
      dirty: !!document.querySelector(".lm-DockPanel-tabBar .lm-TabBar-tab.jp-mod-current.jp-mod-dirty"),
    };
  });
}

// Polls pageState until check(state) returns true; a dialog or an error output ends it early.
async function waitFor(page, what, timeoutMs, check, { allowDialogs = false } = {}) {
  const deadline = Date.now() + timeoutMs;
  let state;
  while (Date.now() < deadline) {
    state = await pageState(page);
    if (state.errors.length) {
      fail(`an error output appeared while waiting for ${what}:\n  ` + state.errors.join("\n  "));
    }
    if (!allowDialogs && state.dialogs.length) {
      const d = state.dialogs[0];
      fail(`JupyterLab showed a dialog "${d.header}" while waiting for ${what}: ${d.body}`);
    }
    if (check(state)) return state;
    await sleep(200);
  }
  fail(`timed out after ${(timeoutMs / 1000).toFixed(0)} s waiting for ${what}; last state: ` +
    JSON.stringify({ ...state, errors: undefined }));
}

// ---------------------------------------------------------------- the run

let context = null;
let ownUserDataDir = null;

async function closeBrowser() {
  if (!context) return;
  const c = context;
  context = null;
  await Promise.race([c.close().catch(() => {}), sleep(5000)]);
}

const watchdog = setTimeout(async () => {
  console.error(`run_notebook: FAILED: the whole run took longer than ${opts.timeout} s; stopping.`);
  await closeBrowser();
  process.exit(1);
}, opts.timeout * 1000);
watchdog.unref();

async function main() {
  // What the notebook holds, from the server, before the browser touches it.
  const before = await api(`${contentsPath(notebookPath)}?content=1&type=notebook`);
  const nCode = codeCellsOf(before.content).length;
  if (nCode === 0) fail(`${notebookPath} has no code cells`);
  log(`${notebookPath}: ${nCode} code cells; kernel wanted: ${opts.kernel}`);

  let userDataDir = opts.userDataDir;
  if (!userDataDir) {
    userDataDir = ownUserDataDir = mkdtempSync(join(tmpdir(), "prunekit-chromium-"));
  } else {
    mkdirSync(userDataDir, { recursive: true });
  }
  context = await chromium.launchPersistentContext(userDataDir, {
    executablePath: opts.browser,
    headless: true,
    args: CHROMIUM_ARGS,
    viewport: { width: 1400, height: 1000 },
    timeout: 30000,
  });
  const version = context.browser() ? context.browser().version() : "?";
  log(`launched ${opts.browser} (Chromium ${version}) with a fresh profile in ${userDataDir}`);

  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(30000);
  const consoleErrors = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text().slice(0, 300));
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e).slice(0, 300)));

  await page.goto(notebookUrl, { waitUntil: "domcontentloaded" });
  await waitFor(page, "the notebook to open", 30000, (s) => s.hasNotebook && s.prompts.length > 0,
    { allowDialogs: true });
  log("the notebook is open");

  // JupyterLab starts the kernel named in the notebook's metadata; it asks with a dialog when it
  // cannot tell. Answer with --kernel. Then wait for the kernel to be idle.
  const kernelDeadline = Date.now() + 30000;
  for (;;) {
    const s = await pageState(page);
    if (s.dialogs.length) {
      const d = s.dialogs[0];
      if (!d.hasSelect) fail(`JupyterLab showed a dialog "${d.header}": ${d.body}`);
      const picked = await page.evaluate((name) => {
        const sel = document.querySelector(".jp-Dialog .jp-Dialog-body select");
        const opt = [...sel.options].find((o) => {
          try {
            const v = JSON.parse(o.value);
            if (v && v.name === name) return true;
          } catch {
            /* not JSON */
          }
          return o.value === name || o.textContent.trim() === name;
        });
        if (!opt) return [...sel.options].map((o) => o.textContent.trim());
        sel.value = opt.value;
        sel.dispatchEvent(new Event("change", { bubbles: true }));
        return true;
      }, opts.kernel);
      if (picked !== true) {
        fail(`the kernel dialog offers no "${opts.kernel}" kernel; it offers: ${picked.join(", ")}`);
      }
      await page.click(".jp-Dialog .jp-Dialog-button.jp-mod-accept");
      log(`picked the ${opts.kernel} kernel in the "${d.header}" dialog`);
      await sleep(300);
      continue;
    }
    if (s.kernelStatus === "idle" && s.kernelName && s.kernelName !== "No Kernel") {
      log(`kernel "${s.kernelName}" is idle`);
      break;
    }
    if (s.kernelStatus === "dead") {
      fail(`the kernel died while starting (${s.kernelName}); see the server log`);
    }
    if (Date.now() > kernelDeadline) {
      fail(`the kernel was not idle within 30 s; status "${s.kernelStatus}", name "${s.kernelName}"`);
    }
    await sleep(200);
  }

  // Which kernel the server started for this notebook.
  const sessions = await api("/api/sessions");
  const session = sessions.find((x) => x.path === notebookPath || (x.notebook && x.notebook.path === notebookPath));
  if (!session || !session.kernel) fail(`the server has no kernel session for ${notebookPath}`);
  if (session.kernel.name !== opts.kernel) {
    fail(`the notebook runs kernel "${session.kernel.name}", not "${opts.kernel}"`);
  }

  // Run > Run All Cells.
  await page.locator(".lm-MenuBar-itemLabel", { hasText: /^Run$/ }).click();
  await page.locator(".lm-Menu-itemLabel", { hasText: /^Run All Cells$/ }).click();
  log("clicked Run > Run All Cells");

  const numbered = /^\[\d+\]:$/;
  const ran = await waitFor(page, "every cell to finish", 45000, (s) =>
    s.prompts.length === nCode && s.prompts.every((p) => numbered.test(p)) &&
    s.kernelStatus === "idle");
  log(`all ${nCode} code cells ran: ${ran.prompts.join(" ")}`);

  let rendered;
  try {
    rendered = await waitFor(page, "a chart <img> and a <table> in the outputs", 10000,
      (s) => s.imagesDecoded > 0 && s.tables > 0);
  } catch (e) {
    const s = await pageState(page);
    if (e instanceof Failure && s.tables === 0 && s.jsonTrees > 0) {
      fail(`no <table> in the outputs: ${s.jsonTrees} output(s) render as JSON trees instead ` +
        "(JupyterLab's application/json renderer has rank 0 and wins over text/html, rank 50; " +
        "an output bundle with application/json never shows its HTML table in JupyterLab)");
    }
    throw e;
  }
  log(`outputs: ${rendered.images} image(s), ${rendered.tables} table(s)`);

  // Save, and read the stored notebook back: outputs must be there, none of them an error.
  await page.locator(".jp-Notebook").first().click({ position: { x: 5, y: 5 } });
  await page.keyboard.press("Control+s");
  await waitFor(page, "the notebook to be saved", 15000, (s) => s.dirty === false);
  const after = await api(`${contentsPath(notebookPath)}?content=1&type=notebook`);
  const stored = codeCellsOf(after.content);
  const problems = [];
  stored.forEach((cell, i) => {
    const src = (Array.isArray(cell.source) ? cell.source.join("") : cell.source).split("\n")[0];
    for (const out of cell.outputs || []) {
      if (out.output_type === "error" || out.ename !== undefined) {
        problems.push(`cell ${i + 1} (${src}): ${out.ename}: ${out.evalue}`);
      } else if (out.output_type === "stream" && out.name === "stderr") {
        problems.push(`cell ${i + 1} (${src}): stderr: ${String(out.text).slice(0, 300)}`);
      }
    }
    if (cell.execution_count === null) problems.push(`cell ${i + 1} (${src}) has no execution count`);
  });
  if (problems.length) fail("the saved notebook holds error outputs:\n  " + problems.join("\n  "));
  const mimes = new Set(stored.flatMap((c) => (c.outputs || []).flatMap((o) => Object.keys(o.data || {}))));
  log(`saved; stored output types: ${[...mimes].sort().join(", ")}`);

  await screenshot(page);
  if (consoleErrors.length) {
    log(`browser console errors (not failures):\n  ${consoleErrors.slice(0, 10).join("\n  ")}`);
  }
}

// A "full page" in JupyterLab is the viewport (the notebook scrolls inside it), so grow the
// viewport to the notebook's height first, within reason, and scroll it to the top.
async function screenshot(page) {
  mkdirSync(dirname(screenshotPath), { recursive: true });
  const extra = await page.evaluate(() => {
    const scroller = document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-WindowedPanel-outer") ||
      document.querySelector(".jp-NotebookPanel:not(.lm-mod-hidden) .jp-Notebook");
    if (!scroller) return 0;
    scroller.scrollTop = 0;
    const cells = scroller.querySelectorAll(".jp-Cell");
    if (!cells.length) return 0;
    const bottom = cells[cells.length - 1].getBoundingClientRect().bottom;
    return Math.max(0, Math.ceil(bottom - scroller.getBoundingClientRect().bottom));
  });
  const height = Math.min(1000 + extra + 60, 6000);
  await page.setViewportSize({ width: 1400, height });
  await sleep(500);
  await page.screenshot({ path: screenshotPath, fullPage: true });
  log(`screenshot: ${screenshotPath} (1400x${height})`);
}

let code = 0;
try {
  await main();
  log("OK");
} catch (e) {
  code = 1;
  if (e instanceof Failure) {
    console.error(`run_notebook: FAILED: ${e.message}`);
  } else {
    console.error(`run_notebook: FAILED: ${e && e.stack ? e.stack : e}`);
  }
  if (context) {
    try {
      const page = context.pages()[0];
      if (page) await screenshot(page);
    } catch (e2) {
      console.error(`run_notebook: no screenshot either: ${String(e2).split("\n")[0]}`);
    }
  }
} finally {
  await closeBrowser();
  if (ownUserDataDir) rmSync(ownUserDataDir, { recursive: true, force: true });
  clearTimeout(watchdog);
}
process.exit(code);
