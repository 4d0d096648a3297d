// Drives code-server's VS Code workbench in Debian's Chromium (headless, playwright-core) for
// tests/vscode/test_workbench.py.
//
//   node vscode-extension/test/e2e/run_workbench.mjs URL WORKSPACE ARTIFACTS
//        [--recipe broken.recipe.yaml] [--layer conv2.weight] [--problems N] [--complete GMPruningModifier]
//        [--staged broken.staged.recipe.yaml --staged-layer conv2 --staged-problems N
//         --staged-field dampening_frac]
//        [--user-data-dir DIR] [--timeout SECONDS] [--browser /usr/bin/chromium]
//
// URL is code-server's address (http://127.0.0.1:PORT/), WORKSPACE the folder it opens, ARTIFACTS
// where the screenshots go. Steps: open the workbench on the folder, wait for `.monaco-workbench`;
// open the recipe with Ctrl+P; open the Problems panel (Ctrl+Shift+M) and wait for N marker rows;
// hover the layer name in `params` and read `.monaco-hover`; screenshot `workbench.png` (recipe,
// squiggles, Problems panel, hover); read the status bar; on a new last line type `  - !`, read the
// suggest widget's rows, filter to --complete and accept it, and read what was inserted (and
// whether it came in as a snippet, with placeholders); screenshot `completion.png`; click the
// status bar's model item and read the chart webview; screenshot `sensitivity.png`.
//
// With --staged, the same workbench then reverts and closes the first recipe and opens the staged
// one (llm-compressor's `<name>_stage: {<group>_modifiers: {ClassName: {args}}}`): its Problems
// rows, a hover on --staged-layer (a `targets` entry), screenshot `staged.png`; then on the empty
// last line, indented 4 (inside the last modifier group), every suggestion of Ctrl+Space (the
// class names), and indented 6 (inside the last class's mapping) every suggestion (its fields);
// --staged-field is filtered to and accepted; screenshot `staged-completion.png` (the class list).
//
// It prints ONE JSON object on stdout: {problems: [{severity, message, source, code, position,
// file}], squiggles, hover, completions: [{label, kind, detail}], accepted, snippet, statusbar:
// [{id, text, aria}], chartTab, chart, staged: {problems, otherProblems, squiggles, hover, classes,
// fields, accepted}, notificationsBeforeEdit, notifications, screenshots, errors, timings}. A step that times
// out adds a sentence naming the step to `errors` and the run goes on with the next step; the test
// judges what was seen. The
// exit status is non-zero only for a harness failure (bad arguments: 2; the browser or the
// workbench did not come up, or the watchdog fired: 1), with one line "run_workbench: FAILED: ..."
// on stderr. Progress lines go to stderr.

import { mkdtempSync, rmSync, mkdirSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { chromium } from "playwright-core";

// ---------------------------------------------------------------- arguments

function usage(msg) {
  console.error(`run_workbench: ${msg}`);
  console.error("usage: node run_workbench.mjs URL WORKSPACE ARTIFACTS [--recipe NAME] [--layer NAME] " +
    "[--problems N] [--complete LABEL] [--staged NAME] [--staged-layer NAME] [--staged-problems N] " +
    "[--staged-field NAME] [--user-data-dir DIR] [--timeout SECONDS] [--browser PATH]");
  process.exit(2);
}

const positional = [];
const opts = {
  recipe: "broken.recipe.yaml",
  layer: "conv2.weight",
  problems: 1,
  complete: "GMPruningModifier",
  staged: null,
  stagedLayer: "conv2",
  stagedProblems: 1,
  stagedField: "dampening_frac",
  userDataDir: null,
  timeout: 120,
  browser: "/usr/bin/chromium",
};
{
  const argv = process.argv.slice(2);
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const next = () => {
      if (i + 1 >= argv.length) usage(`${a} needs a value`);
      return argv[++i];
    };
    if (a === "--recipe") opts.recipe = next();
    else if (a === "--layer") opts.layer = next();
    else if (a === "--problems") opts.problems = Number(next());
    else if (a === "--complete") opts.complete = next();
    else if (a === "--staged") opts.staged = next();
    else if (a === "--staged-layer") opts.stagedLayer = next();
    else if (a === "--staged-problems") opts.stagedProblems = Number(next());
    else if (a === "--staged-field") opts.stagedField = next();
    else if (a === "--user-data-dir") opts.userDataDir = next();
    else if (a === "--timeout") opts.timeout = Number(next());
    else if (a === "--browser") opts.browser = next();
    else if (a.startsWith("--")) usage(`unknown option ${a}`);
    else positional.push(a);
  }
  if (positional.length !== 3) usage("expected URL, WORKSPACE and ARTIFACTS");
  if (!(opts.timeout > 0)) usage("--timeout must be a positive number of seconds");
  if (!(opts.problems >= 0)) usage("--problems must be a number of rows");
  if (!(opts.stagedProblems >= 0)) usage("--staged-problems must be a number of rows");
}
const [serverUrl, workspace, artifacts] = positional;
let workbenchUrl;
try {
  const u = new URL(serverUrl);
  u.searchParams.set("folder", workspace);
  workbenchUrl = u.toString();
} catch {
  usage(`not a URL: ${serverUrl}`);
}

// The flags of docs: editor.md §7.3 (Playwright adds --headless itself for headless: true).
const CHROMIUM_ARGS = [
  "--no-sandbox",
  "--disable-gpu",
  "--disable-quic",
  "--no-first-run",
  "--disable-background-networking",
  "--disable-component-update",
  "--disable-sync",
];
const VIEWPORT = { width: 1400, height: 900 };

// ---------------------------------------------------------------- helpers

const t0 = Date.now();
const elapsed = () => Number(((Date.now() - t0) / 1000).toFixed(1));
function log(msg) {
  console.error(`run_workbench: [${elapsed().toFixed(1)}s] ${msg}`);
}

class Failure extends Error {}
function fail(msg) {
  throw new Failure(msg);
}
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));
const clean = (s) => (s || "").replace(/\s+/g, " ").trim();

const result = {
  url: workbenchUrl,
  recipe: opts.recipe,
  layer: opts.layer,
  problems: [],
  hover: "",
  completions: [],
  accepted: "",
  snippet: false,
  statusbar: [],
  notifications: [],
  notificationsBeforeEdit: [],
  screenshots: [],
  errors: [],
  timings: {},
};

// Runs one step; a Failure or a Playwright timeout becomes one sentence in result.errors.
async function step(name, fn) {
  const start = Date.now();
  try {
    await fn();
    log(`step ${name}: ok`);
  } catch (e) {
    const msg = e instanceof Failure ? e.message : String(e && e.message ? e.message : e).split("\n")[0];
    result.errors.push(`step '${name}': ${msg}`);
    log(`step ${name}: FAILED: ${msg}`);
  } finally {
    result.timings[name] = Number(((Date.now() - start) / 1000).toFixed(1));
  }
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
  console.error(`run_workbench: FAILED: the whole run took longer than ${opts.timeout} s; stopping ` +
    `(errors so far: ${JSON.stringify(result.errors)}).`);
  console.log(JSON.stringify({ ...result, errors: [...result.errors, `watchdog: the run took longer than ${opts.timeout} s`] }));
  await closeBrowser();
  process.exit(1);
}, opts.timeout * 1000);
watchdog.unref();

async function screenshot(page, name) {
  const path = join(artifacts, name);
  await page.screenshot({ path });
  result.screenshots.push(path);
  log(`screenshot: ${path}`);
}

// The visible notification toasts (an extension that fails to start says so there).
async function readNotifications(page) {
  const texts = await page.$$eval(".notifications-toasts .notification-list-item, .notifications-center .notification-list-item",
    (els) => els.map((e) => {
      const t = (sel) => {
        const el = e.querySelector(sel);
        return el ? (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim() : "";
      };
      const icon = e.querySelector(".notification-list-item-icon");
      const severity = icon ? ["error", "warning", "info"].find((c) => [...icon.classList].some((k) => k.includes(c))) || "" : "";
      return [severity, t(".notification-list-item-source").replace(/^Source: /, ""), t(".notification-list-item-message")]
        .filter(Boolean).join(": ");
    }));
  for (const t of texts) {
    if (t && !result.notifications.includes(t)) result.notifications.push(t.slice(0, 1000));
  }
  return result.notifications.slice();
}

// Opens the notification centre (the bell) so that toasts that already went away are read too.
async function readAllNotifications(page) {
  await page.keyboard.press("Escape").catch(() => {});
  const bell = page.locator("#workbench\\.parts\\.statusbar [id='status.notifications'] .statusbar-item-label, #workbench\\.parts\\.statusbar [id='status.notifications'] a");
  if (await bell.count()) {
    await bell.first().click({ timeout: 5000 }).catch(() => {});
    await page.waitForSelector(".notifications-center.visible", { timeout: 3000 }).catch(() => {});
  }
  return readNotifications(page);
}

// Where `text` sits in the active editor's rendered lines: the centre of its first occurrence.
async function locateText(page, text) {
  return page.evaluate((needle) => {
    const editor = document.querySelector(".editor-group-container.active .monaco-editor .view-lines") ||
      document.querySelector(".monaco-editor .view-lines");
    if (!editor) return null;
    for (const line of editor.querySelectorAll(".view-line")) {
      const full = line.textContent.replace(/\u00a0/g, " ");
      const at = full.indexOf(needle);
      if (at < 0) continue;
      // Walk the text nodes to the character offsets and measure that range.
      const walker = document.createTreeWalker(line, NodeFilter.SHOW_TEXT);
      const range = document.createRange();
      let seen = 0;
      let startSet = false;
      for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        const len = node.textContent.length;
        if (!startSet && at < seen + len) {
          range.setStart(node, at - seen);
          startSet = true;
        }
        if (startSet && at + needle.length <= seen + len) {
          range.setEnd(node, at + needle.length - seen);
          const r = range.getBoundingClientRect();
          return { x: r.left + r.width / 2, y: r.top + r.height / 2, width: r.width };
        }
        seen += len;
      }
    }
    return null;
  }, text);
}

// Opens `name` with Ctrl+P (Quick Open) and waits for its editor.
async function openRecipe(page, name) {
  await page.locator(".monaco-workbench").click({ position: { x: 700, y: 450 } }).catch(() => {});
  await page.keyboard.press("Control+P");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: 15000 });
  await input.fill(name);
  await page.waitForSelector(`.quick-input-widget .monaco-list-row[aria-label*="${name}"]`, { timeout: 15000 });
  await page.keyboard.press("Enter");
  await page.waitForSelector(`.tabs-container .tab.active[aria-label*="${name}"], ` +
    `.tabs-container .tab.active[data-resource-name="${name}"]`, { timeout: 15000 });
  await page.waitForSelector(".editor-group-container.active .monaco-editor .view-lines .view-line", { timeout: 15000 });
}

// Runs a command by its title from the Command Palette (F1).
async function runCommand(page, title) {
  await page.keyboard.press("F1");
  const input = page.locator(".quick-input-widget input");
  await input.waitFor({ state: "visible", timeout: 10000 });
  await input.fill(`>${title}`);
  // Click the row with that title: the first row may be another command that fuzzy-matches.
  const row = page.locator(`.quick-input-widget .monaco-list-row[aria-label*="${title}"]`);
  await row.first().click({ timeout: 10000 });
  await input.waitFor({ state: "hidden", timeout: 10000 });
}

// The Problems panel's marker rows in the order shown, each with the file row above it: severity
// icon, message, source, code, [Ln L, Col C].
function readMarkerRows(page) {
  return page.$$eval(".markers-panel .monaco-list-row", (els) => {
    const text = (r, sel) => {
      const el = r.querySelector(sel);
      return el ? (el.innerText || el.textContent || "").replace(/\s+/g, " ").trim() : "";
    };
    const rows = els.map((r) => ({ r, top: r.getBoundingClientRect().top })).sort((a, b) => a.top - b.top);
    let file = "";
    const out = [];
    for (const { r } of rows) {
      if (!r.querySelector(".marker-message")) {
        file = text(r, ".label-name") || (r.getAttribute("aria-label") || "").split(",")[0].trim();
        continue;
      }
      const icon = r.querySelector(".marker-icon");
      out.push({
        severity: icon ? ["error", "warning", "info"].find((c) => icon.classList.contains(c)) || "" : "",
        message: text(r, ".marker-message"),
        source: text(r, ".marker-source"),
        code: text(r, ".marker-code"),
        position: text(r, ".marker-line"),
        file,
        aria: r.getAttribute("aria-label") || "",
      });
    }
    return out;
  });
}

// Opens the Problems panel (if it is not open) and waits until it lists `n` rows for `file` and
// they hold still; returns those rows (rows of other files are left out).
async function readProblems(page, file, n) {
  if (!(await page.locator(".markers-panel").isVisible().catch(() => false))) {
    // Focus the editor, then toggle the Problems panel (Ctrl+Shift+M); press it again if the
    // panel was already open.
    const first = await locateText(page, ":");
    if (first) await page.mouse.click(first.x, first.y);
    await page.keyboard.press("Control+Shift+M");
    try {
      await page.waitForSelector(".markers-panel", { state: "visible", timeout: 5000 });
    } catch {
      await page.keyboard.press("Control+Shift+M");
      await page.waitForSelector(".markers-panel", { state: "visible", timeout: 10000 });
    }
  }
  const read = async () => (await readMarkerRows(page)).filter((r) => r.file === file);
  const deadline = Date.now() + 45000;
  let rows = [];
  for (;;) {
    rows = await read();
    if (rows.length >= n) break;
    if (Date.now() > deadline) {
      const panel = await page.$eval(".markers-panel", (p) => p.innerText).catch(() => "");
      fail(`timed out after 45 s waiting for ${n} row(s) of ${file} in the Problems panel; it shows ` +
        `${rows.length} (panel text: "${clean(panel).slice(0, 200)}")`);
    }
    await sleep(250);
  }
  // Let late diagnostics settle: the same rows twice in a row, 500 ms apart.
  for (let i = 0; i < 6; i++) {
    await sleep(500);
    const again = await read();
    const same = JSON.stringify(again) === JSON.stringify(rows);
    rows = again;
    if (same) break;
  }
  return rows;
}

// The kinds of squiggle the active editor shows.
function readSquiggles(page) {
  return page.$$eval(
    ".editor-group-container.active .monaco-editor .squiggly-error, " +
    ".editor-group-container.active .monaco-editor .squiggly-warning, " +
    ".editor-group-container.active .monaco-editor .squiggly-info",
    (els) => els.map((e) => e.className.split(/\s+/).find((c) => c.startsWith("squiggly-"))));
}

// The text of the hover over the first occurrence of `needle` in the active editor.
async function hoverOn(page, needle) {
  const deadline = Date.now() + 30000;
  let attempt = 0;
  for (;;) {
    attempt++;
    const at = await locateText(page, needle);
    if (!at) fail(`the text "${needle}" is not in the editor's visible lines`);
    // Move away and back so the editor starts a fresh hover.
    await page.mouse.move(at.x, at.y + 300);
    await sleep(150);
    await page.mouse.move(at.x - 2, at.y);
    await page.mouse.move(at.x, at.y);
    try {
      await page.waitForFunction(() => {
        const h = [...document.querySelectorAll(".monaco-hover")].find((e) =>
          !e.classList.contains("hidden") && e.offsetParent !== null && e.textContent.trim() !== "" &&
          !/^Loading\.\.\.$/.test(e.textContent.trim()));
        return !!h;
      }, null, { timeout: 5000 });
      const texts = await page.$$eval(".monaco-hover", (els) => els
        .filter((e) => !e.classList.contains("hidden") && e.offsetParent !== null)
        .map((e) => e.innerText || e.textContent));
      const hover = texts.map((t) => t.trim()).filter(Boolean).join("\n---\n");
      if (hover) return hover;
    } catch {
      /* retry below */
    }
    if (Date.now() > deadline) fail(`timed out after 30 s (${attempt} tries) waiting for a hover on "${needle}"`);
  }
}

const SUGGEST_ROWS = ".editor-group-container.active .suggest-widget.visible .monaco-list-row";

// Opens the suggest widget with Ctrl+Space and reads every item, paging through the list (it
// renders only the rows in view): [{label, kind, detail}] in list order.
async function readAllSuggestions(page) {
  await page.keyboard.press("Control+Space");
  await page.waitForSelector(SUGGEST_ROWS, { timeout: 15000 });
  await sleep(300);
  const read = () => page.$$eval(SUGGEST_ROWS, (els) => els.map((r) => {
    const icon = r.querySelector(".suggest-icon");
    const kind = icon ? ([...icon.classList].find((c) => c.startsWith("codicon-symbol-")) || "").slice("codicon-symbol-".length) : "";
    const label = r.querySelector(".label-name");
    const detail = r.querySelector(".details-label");
    return {
      pos: Number(r.getAttribute("aria-posinset")) || 0,
      size: Number(r.getAttribute("aria-setsize")) || 0,
      label: label ? label.textContent.trim() : "",
      kind,
      detail: detail ? detail.textContent.trim() : "",
    };
  }));
  const seen = new Map();
  let size = 0;
  for (let i = 0; i < 60; i++) {
    for (const row of await read()) {
      seen.set(row.pos, row);
      size = Math.max(size, row.size);
    }
    if (size && seen.size >= size) break;
    await page.keyboard.press("PageDown");
    await sleep(60);
  }
  if (!size || seen.size < size) {
    fail(`read ${seen.size} of ${size || "?"} suggestions (the rows carry no aria-posinset/aria-setsize?)`);
  }
  return [...seen.values()].sort((a, b) => a.pos - b.pos).map(({ label, kind, detail }) => ({ label, kind, detail }));
}

// The rendered lines of the active editor, top to bottom.
function editorLines(page) {
  return page.evaluate(() => [...document.querySelectorAll(".editor-group-container.active .monaco-editor .view-lines .view-line")]
    .map((l) => ({ top: parseFloat(l.style.top) || 0, text: l.textContent.replace(/\u00a0/g, " ") }))
    .sort((a, b) => a.top - b.top).map((l) => l.text));
}

// The staged recipe in the same workbench: the first recipe reverted and closed (so that the
// server clears its diagnostics), the staged one opened, its Problems rows, a hover on a `targets`
// entry, and completion of class names and of fields.
async function stagedRecipe(page) {
  const staged = (result.staged = {
    recipe: opts.staged, problems: [], otherProblems: [], squiggles: [], hover: "",
    classes: [], fields: [], accepted: "",
  });
  await step("staged close first", async () => {
    await page.keyboard.press("Escape");
    await openRecipe(page, opts.recipe);
    await runCommand(page, "Revert and Close Editor");
    await runCommand(page, "Close All Editor Groups");
    await page.waitForFunction(() => !document.querySelector(".tabs-container .tab"), null, { timeout: 10000 });
    // The server answers didClose with an empty list; the panel may keep the rows a moment.
    const deadline = Date.now() + 10000;
    while ((await readMarkerRows(page).catch(() => [])).length && Date.now() < deadline) await sleep(250);
  });
  await step("staged open", () => openRecipe(page, opts.staged));
  await step("staged problems", async () => {
    staged.problems = await readProblems(page, opts.staged, opts.stagedProblems);
    staged.otherProblems = (await readMarkerRows(page)).filter((r) => r.file !== opts.staged);
    staged.squiggles = await readSquiggles(page);
  });
  await step("staged hover", async () => {
    staged.hover = await hoverOn(page, opts.stagedLayer);
    await sleep(400); // the hover fades in
    await screenshot(page, "staged.png");
  });
  await step("staged completion", async () => {
    await page.keyboard.press("Escape");
    const first = await locateText(page, "_stage:");
    if (!first) fail("cannot find the line `..._stage:` to focus the editor");
    await page.mouse.click(first.x, first.y);
    // The recipe ends with a newline and its last modifier: the cursor goes to the empty last
    // line; 4 spaces put it in the modifier group, 2 more in the class's mapping.
    await page.keyboard.press("Control+End");
    await page.keyboard.type("    ", { delay: 20 });
    staged.classes = await readAllSuggestions(page);
    // Back to the top of the list for the screenshot.
    for (let i = 0; i < 10; i++) await page.keyboard.press("PageUp");
    await sleep(300);
    await screenshot(page, "staged-completion.png");
    await page.keyboard.press("Escape");
    await page.keyboard.type("  ", { delay: 20 });
    staged.fields = await readAllSuggestions(page);
    if (!opts.stagedField) return;
    await page.keyboard.type(opts.stagedField.slice(0, 4), { delay: 40 });
    await page.waitForFunction(([sel, want]) => {
      const row = document.querySelector(`${sel}.focused .label-name`) || document.querySelector(`${sel} .label-name`);
      return row && row.textContent.trim() === want;
    }, [SUGGEST_ROWS, opts.stagedField], { timeout: 10000 });
    await page.keyboard.press("Enter");
    const wanted = `${opts.stagedField}:`;
    await page.waitForFunction((want) =>
      [...document.querySelectorAll(".editor-group-container.active .monaco-editor .view-lines .view-line")]
        .some((l) => l.textContent.replace(/\u00a0/g, " ").trimStart().startsWith(want)),
    wanted, { timeout: 10000 });
    await sleep(300);
    const lines = await editorLines(page);
    staged.accepted = lines.findLast((t) => t.trimStart().startsWith(wanted)) || "";
  });
}

async function main() {
  mkdirSync(artifacts, { recursive: true });
  let userDataDir = opts.userDataDir;
  if (!userDataDir) {
    userDataDir = ownUserDataDir = mkdtempSync(join(tmpdir(), "prunekit-chromium-"));
  } else {
    mkdirSync(userDataDir, { recursive: true });
  }
  try {
    context = await chromium.launchPersistentContext(userDataDir, {
      executablePath: opts.browser,
      headless: true,
      args: CHROMIUM_ARGS,
      viewport: VIEWPORT,
      timeout: 30000,
    });
  } catch (e) {
    fail(`could not launch ${opts.browser}: ${String(e.message || e).split("\n")[0]}`);
  }
  result.browser = context.browser() ? context.browser().version() : "?";
  log(`launched ${opts.browser} (Chromium ${result.browser}) with a fresh profile in ${userDataDir}`);

  const page = context.pages()[0] || (await context.newPage());
  page.setDefaultTimeout(30000);
  const consoleErrors = [];
  page.on("console", (m) => {
    if (m.type() === "error") consoleErrors.push(m.text().slice(0, 300));
  });
  page.on("pageerror", (e) => consoleErrors.push(String(e).slice(0, 300)));

  // ------------------------------------------------------------ workbench (a harness failure if not)
  try {
    await page.goto(workbenchUrl, { waitUntil: "domcontentloaded", timeout: 30000 });
    await page.waitForSelector(".monaco-workbench", { timeout: 60000 });
    // The explorer lists the folder once the workspace is open.
    await page.waitForSelector(".explorer-folders-view .monaco-list-row, .explorer-viewlet .monaco-list-row",
      { timeout: 30000 });
  } catch (e) {
    try {
      await screenshot(page, "workbench.png");
    } catch {
      /* nothing to show */
    }
    fail(`the workbench did not come up at ${workbenchUrl}: ${String(e.message || e).split("\n")[0]}`);
  }
  result.timings.workbench = elapsed();
  log("the workbench is up");

  // ------------------------------------------------------------ open the recipe
  await step("open recipe", () => openRecipe(page, opts.recipe));

  // ------------------------------------------------------------ Problems panel
  await step("problems", async () => {
    result.problems = await readProblems(page, opts.recipe, opts.problems);
    result.squiggles = await readSquiggles(page);
  });

  // ------------------------------------------------------------ hover on a layer name
  await step("hover", async () => {
    result.hover = await hoverOn(page, opts.layer);
  });
  // The screenshot a person looks at: recipe with squiggles, Problems panel, and the hover.
  await step("screenshot", async () => {
    await sleep(400); // the hover fades in
    await screenshot(page, "workbench.png");
    result.notificationsBeforeEdit = await readNotifications(page);
  });

  // ------------------------------------------------------------ status bar
  await step("statusbar", async () => {
    await page.waitForSelector("#workbench\\.parts\\.statusbar .statusbar-item", { timeout: 10000 });
    const read = () => page.$$eval("#workbench\\.parts\\.statusbar .statusbar-item", (els) => els
      .filter((e) => e.offsetParent !== null)
      .map((e) => {
        const icons = [...e.querySelectorAll(".codicon")]
          .map((i) => [...i.classList].find((c) => c.startsWith("codicon-") && c !== "codicon-modifier-spin"))
          .filter(Boolean).map((c) => `$(${c.slice("codicon-".length)})`);
        const text = (e.textContent || "").replace(/\s+/g, " ").trim();
        return {
          id: e.id || "",
          text: [icons.join(" "), text].filter(Boolean).join(" "),
          aria: e.getAttribute("aria-label") || (e.querySelector("[aria-label]") || {}).ariaLabel || "",
        };
      })
      .filter((i) => i.text));
    // The model item comes from the extension once the server has answered; give it a moment.
    const deadline = Date.now() + 10000;
    for (;;) {
      result.statusbar = await read();
      if (result.statusbar.some((i) => i.text.includes("$(circuit-board)")) || Date.now() > deadline) break;
      await sleep(300);
    }
  });

  // ------------------------------------------------------------ completion of a modifier tag
  await step("completion", async () => {
    await page.keyboard.press("Escape");
    const first = await locateText(page, "version");
    if (!first) fail("cannot find the line `version` to focus the editor");
    await page.mouse.click(first.x, first.y);
    await page.keyboard.press("Control+End");
    // The recipe ends with a newline: the cursor is on an empty last line, column 1.
    await page.keyboard.type("  - !", { delay: 40 });
    let rowsSel = ".editor-group-container.active .suggest-widget.visible .monaco-list-row";
    try {
      await page.waitForSelector(rowsSel, { timeout: 5000 });
    } catch {
      log("no suggestions after typing `!`; asking with Ctrl+Space");
      await page.keyboard.press("Control+Space");
      await page.waitForSelector(rowsSel, { timeout: 15000 });
    }
    await sleep(300);
    result.completions = await page.$$eval(rowsSel, (els) => els.map((r) => {
      const icon = r.querySelector(".suggest-icon");
      const kind = icon ? ([...icon.classList].find((c) => c.startsWith("codicon-symbol-")) || "").slice("codicon-symbol-".length) : "";
      const label = r.querySelector(".label-name");
      const detail = r.querySelector(".details-label");
      return {
        label: label ? label.textContent.trim() : "",
        kind,
        detail: detail ? detail.textContent.trim() : "",
        aria: r.getAttribute("aria-label") || "",
      };
    }));
    if (!opts.complete) return;
    // Filter to the wanted item, accept it, and read what went into the document.
    await page.keyboard.type(opts.complete.slice(0, 6), { delay: 40 });
    await page.waitForFunction(([sel, want]) => {
      const row = document.querySelector(`${sel}.focused .label-name`) || document.querySelector(`${sel} .label-name`);
      return row && row.textContent.trim() === want;
    }, [rowsSel, opts.complete], { timeout: 10000 });
    await page.keyboard.press("Enter");
    await page.waitForFunction((want) => {
      const lines = [...document.querySelectorAll(".editor-group-container.active .monaco-editor .view-lines .view-line")];
      return lines.some((l) => l.textContent.includes(`!${want}`));
    }, opts.complete, { timeout: 10000 });
    await sleep(300);
    result.snippet = await page.evaluate(() =>
      !!document.querySelector(".editor-group-container.active .monaco-editor .snippet-placeholder, " +
        ".editor-group-container.active .monaco-editor .finish-snippet-placeholder"));
    // The inserted lines: from the accepted tag to the end of the rendered text, in document order.
    result.accepted = await page.evaluate((want) => {
      const lines = [...document.querySelectorAll(".editor-group-container.active .monaco-editor .view-lines .view-line")]
        .map((l) => ({ top: parseFloat(l.style.top) || 0, text: l.textContent.replace(/\u00a0/g, " ") }))
        .sort((a, b) => a.top - b.top).map((l) => l.text);
      const at = lines.findLastIndex((t) => t.includes(`!${want}`));
      return at < 0 ? "" : lines.slice(at).join("\n").replace(/\s+$/, "");
    }, opts.complete);
    await screenshot(page, "completion.png");
  });

  // ------------------------------------------------------------ the sensitivity chart
  // Clicking the status bar item runs "prunekit: Show Layer Sensitivity Chart": a webview panel
  // beside the recipe with the PNG the server drew.
  await step("chart", async () => {
    await page.keyboard.press("Escape");
    const item = page.locator("#workbench\\.parts\\.statusbar .statusbar-item", {
      has: page.locator(".codicon-circuit-board"),
    });
    await item.first().click({ timeout: 10000 });
    const tab = page.locator(".tab", { hasText: "Sensitivity:" });
    await tab.first().waitFor({ timeout: 15000 });
    result.chartTab = clean(await tab.first().textContent());
    // Webviews are nested iframes; look in every frame for the chart image.
    const deadline = Date.now() + 15000;
    for (;;) {
      for (const frame of page.frames()) {
        try {
          const found = await frame.$$eval("img", (imgs) => imgs
            .filter((i) => i.src.startsWith("data:image/png;base64,"))
            .map((i) => ({ width: i.naturalWidth, height: i.naturalHeight, alt: i.alt || "" })));
          const caption = await frame.$$eval("figcaption, p", (els) => els.map((e) => e.textContent || ""));
          if (found.length) {
            result.chart = { ...found[0], caption: clean(caption.join(" ")) };
          }
        } catch {
          /* a frame that went away or is cross-origin */
        }
      }
      if (result.chart || Date.now() > deadline) break;
      await sleep(300);
    }
    if (!result.chart) fail("the chart panel opened but no PNG image appeared in it within 15 s");
    await screenshot(page, "sensitivity.png");
  });

  if (opts.staged) await stagedRecipe(page);

  await step("notifications", async () => {
    await readAllNotifications(page);
  });
  if (consoleErrors.length) result.consoleErrors = consoleErrors.slice(0, 20);
}

let code = 0;
try {
  await main();
  log(`done; ${result.errors.length} step error(s)`);
} catch (e) {
  code = 1;
  const msg = e instanceof Failure ? e.message : (e && e.stack ? e.stack : String(e));
  result.errors.push(`harness: ${msg.split("\n")[0]}`);
  console.error(`run_workbench: FAILED: ${msg}`);
} finally {
  result.timings.total = elapsed();
  console.log(JSON.stringify(result));
  await closeBrowser();
  if (ownUserDataDir) rmSync(ownUserDataDir, { recursive: true, force: true });
  clearTimeout(watchdog);
}
process.exit(code);
