#!/usr/bin/env python3
"""Side-by-side benchmark: prunekit-lsp against yaml-language-server on a large recipe.

It generates a ~5,000-line SparseML recipe of GMPruning modifiers over the weights of the
ResNet-50 in bench/models/resnet50.onnx (names from `prunekit-kernel analyze --format json`), opens
it in both servers, and then, interleaved (one edit to prunekit-lsp, then the same edit to
yaml-language-server), applies N edits one at a time: each edit sets one modifier's final_sparsity
to 1.5 (out of range: both servers must report it) or back to a valid value (the report must go
away). For each edit it times didChange -> the publishDiagnostics for that text (by version when the
server sends one, else the first publish after the change), and checks that the diagnostics match
the text. Then it times completion requests at a `params` list and reads each server's RSS.

yaml-language-server (npm, bench/package.json, run with node) validates with bench/recipe.schema.json,
a JSON Schema of the recipe format, named by a `# yaml-language-server: $schema=...` modeline in the
generated recipe; the modifier tags are declared with its `yaml.customTags` setting. It debounces
validation by a fixed 200 ms (`validationDelayMs`, not a setting); the table also shows its time
without that delay, for reference.

Both servers are driven by the same raw JSON-RPC-over-stdio client below (standard library only).

    .venv/bin/python bench/lsp.py                          # 5,000 lines, 50 edits, 50 completions
    .venv/bin/python bench/lsp.py --json bench/out/lsp.json
    .venv/bin/python bench/lsp.py --only prunekit          # no node needed
    .venv/bin/python bench/lsp.py --check                  # exit 1 when a target is missed
    .venv/bin/python bench/lsp.py --only prunekit --overlap  # every modifier over the same epochs

Targets (language-server issue): diagnostics at least 5x sooner than yaml-language-server (medians),
completion p95 at most 20 ms, RSS at most 100 MB (checked both after the run and at the peak).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
DEFAULT_MODEL = HERE / "models" / "resnet50.onnx"
DEFAULT_LSP = ROOT / "target" / "release" / "prunekit-lsp"
DEFAULT_KERNEL = ROOT / "target" / "release" / "prunekit-kernel"
DEFAULT_YAMLLS = HERE / "node_modules" / "yaml-language-server" / "bin" / "yaml-language-server"
SCHEMA = HERE / "recipe.schema.json"
OUT_DIR = HERE / "out" / "lsp"

YAMLLS_DEBOUNCE_MS = 200.0  # yamlSettings.validationDelayMs in yaml-language-server 2.0.0
BAD_SPARSITY = "1.5"
MODIFIER_TAGS = [
    "GMPruningModifier", "MagnitudePruningModifier", "StructuredPruningModifier",
    "ConstantPruningModifier", "EpochRangeModifier", "SetLearningRateModifier",
    "LearningRateFunctionModifier", "LearningRateModifier", "SetWeightDecayModifier",
    "TrainableParamsModifier", "QuantizationModifier", "DistillationModifier",
]
TARGETS = {"diagnostics_speedup": 5.0, "completion_p95_ms": 20.0, "rss_mb": 100.0}


# --- a raw LSP client ---------------------------------------------------------------------------

class LspClient:
    """JSON-RPC over the stdio of a child process. A reader thread stamps every message with
    time.perf_counter() as soon as it is parsed; server-to-client requests get minimal answers."""

    def __init__(self, name: str, argv: list[str], cwd: Path, settings: dict | None = None,
                 log: Path | None = None):
        self.name = name
        self.settings = settings or {}
        self._log = open(log, "wb") if log else subprocess.DEVNULL
        self.proc = subprocess.Popen(argv, cwd=cwd, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                     stderr=self._log)
        self._write_lock = threading.Lock()
        self._cond = threading.Condition()
        self._responses: dict[int, tuple[float, dict]] = {}
        self.notifications: list[tuple[float, str, dict]] = []
        self._next_id = 0
        self._reader = threading.Thread(target=self._read_loop, daemon=True)
        self._reader.start()

    # transport
    def _send(self, msg: dict) -> float:
        body = json.dumps(msg, separators=(",", ":")).encode("utf-8")
        data = b"Content-Length: %d\r\n\r\n" % len(body) + body
        with self._write_lock:
            t = time.perf_counter()
            self.proc.stdin.write(data)
            self.proc.stdin.flush()
        return t

    def _read_loop(self) -> None:
        out = self.proc.stdout
        while True:
            length = None
            while True:
                line = out.readline()
                if not line:
                    with self._cond:
                        self._cond.notify_all()
                    return
                line = line.strip()
                if not line:
                    break
                key, _, value = line.decode("ascii").partition(":")
                if key.lower() == "content-length":
                    length = int(value)
            msg = json.loads(out.read(length))
            t = time.perf_counter()
            if "method" in msg and "id" in msg:
                self._answer(msg)
            elif "method" in msg:
                with self._cond:
                    self.notifications.append((t, msg["method"], msg.get("params") or {}))
                    self._cond.notify_all()
            else:
                with self._cond:
                    self._responses[msg["id"]] = (t, msg)
                    self._cond.notify_all()

    def _answer(self, msg: dict) -> None:
        method, params = msg["method"], msg.get("params") or {}
        result = None
        if method == "workspace/configuration":
            result = [self._section(item.get("section")) for item in params.get("items", [])]
        self._send({"jsonrpc": "2.0", "id": msg["id"], "result": result})

    def _section(self, section: str | None):
        value = self.settings
        for part in (section or "").split("."):
            if not part:
                continue
            value = value.get(part) if isinstance(value, dict) else None
        return value

    # messages
    def request(self, method: str, params, timeout: float = 30.0) -> tuple[dict, float]:
        """(response, seconds from sending to the response being parsed)."""
        self._next_id += 1
        rid = self._next_id
        t0 = self._send({"jsonrpc": "2.0", "id": rid, "method": method, "params": params})
        deadline = time.monotonic() + timeout
        with self._cond:
            while rid not in self._responses:
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode}) during {method}")
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"{self.name}: no answer to {method} within {timeout} s")
            t1, msg = self._responses.pop(rid)
        if "error" in msg:
            raise RuntimeError(f"{self.name}: {method} failed: {msg['error']}")
        return msg, t1 - t0

    def notify(self, method: str, params) -> float:
        return self._send({"jsonrpc": "2.0", "method": method, "params": params})

    def mark(self) -> int:
        with self._cond:
            return len(self.notifications)

    def wait_diagnostics(self, uri: str, since: int, version: int | None,
                         timeout: float = 30.0) -> tuple[float, dict]:
        """The first publishDiagnostics for `uri` after notification index `since` that is for
        `version` (publishes that carry an older version are skipped; one without a version is
        taken as the answer to the last change)."""
        deadline = time.monotonic() + timeout
        with self._cond:
            i = since
            while True:
                while i < len(self.notifications):
                    t, method, params = self.notifications[i]
                    i += 1
                    if method != "textDocument/publishDiagnostics" or params.get("uri") != uri:
                        continue
                    v = params.get("version")
                    if version is None or v is None or v >= version:
                        return t, params
                if self.proc.poll() is not None:
                    raise RuntimeError(f"{self.name} exited ({self.proc.returncode})")
                if not self._cond.wait(timeout=max(0.0, deadline - time.monotonic())):
                    raise TimeoutError(f"{self.name}: no diagnostics for version {version} "
                                       f"within {timeout} s")

    def memory_mb(self) -> dict[str, float]:
        """VmRSS, VmHWM (the kernel's peak), RssAnon and RssFile of the server process, in MB."""
        fields = {}
        try:
            with open(f"/proc/{self.proc.pid}/status") as f:
                for line in f:
                    key, _, value = line.partition(":")
                    if key in ("VmRSS", "VmHWM", "RssAnon", "RssFile"):
                        fields[key] = int(value.split()[0]) / 1024.0
        except OSError:
            pass
        return fields

    def sample_memory(self, every_s: float = 0.005) -> None:
        """Keep the largest RssAnon / RssFile seen, sampled every few ms in a thread, so that a peak
        can be split into heap (anonymous) and file-backed pages (a memory-mapped model)."""
        self.peak_anon_mb = 0.0
        self.peak_file_mb = 0.0

        def loop():
            while self.proc.poll() is None:
                m = self.memory_mb()
                self.peak_anon_mb = max(self.peak_anon_mb, m.get("RssAnon", 0.0))
                self.peak_file_mb = max(self.peak_file_mb, m.get("RssFile", 0.0))
                time.sleep(every_s)

        threading.Thread(target=loop, daemon=True).start()

    def close(self) -> None:
        try:
            if self.proc.poll() is None:
                self.request("shutdown", None, timeout=10)
                self.notify("exit", None)
                self.proc.wait(timeout=5)
        except Exception:
            pass
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        if self._log is not subprocess.DEVNULL:
            self._log.close()


CLIENT_CAPABILITIES = {
    "general": {"positionEncodings": ["utf-16"]},
    "textDocument": {
        "synchronization": {"dynamicRegistration": False, "didSave": True},
        "publishDiagnostics": {"relatedInformation": True, "versionSupport": True,
                               "codeDescriptionSupport": True, "dataSupport": True},
        "completion": {"completionItem": {"snippetSupport": False,
                                          "documentationFormat": ["markdown", "plaintext"]},
                       "contextSupport": True},
        "hover": {"contentFormat": ["markdown", "plaintext"]},
    },
    "workspace": {"configuration": False, "didChangeConfiguration": {"dynamicRegistration": False}},
}


def start_server(name: str, argv: list[str], settings: dict | None, log: Path) -> tuple[LspClient, float]:
    t0 = time.perf_counter()
    client = LspClient(name, argv, ROOT, settings=settings, log=log)
    client.sample_memory()
    client.request("initialize", {
        "processId": os.getpid(), "rootUri": ROOT.as_uri(),
        "workspaceFolders": [{"uri": ROOT.as_uri(), "name": "prunekit"}],
        "capabilities": CLIENT_CAPABILITIES, "clientInfo": {"name": "bench/lsp.py"},
    })
    client.notify("initialized", {})
    if settings:
        client.notify("workspace/didChangeConfiguration", {"settings": settings})
    return client, time.perf_counter() - t0


# --- the recipe ---------------------------------------------------------------------------------

def prunable_weights(kernel: Path, model: Path) -> list[str]:
    proc = subprocess.run([str(kernel), "analyze", str(model), "--format", "json"],
                          capture_output=True, text=True, timeout=120)
    if proc.returncode != 0:
        sys.exit(f"prunekit-kernel analyze {model} failed: {proc.stderr.strip()}")
    return [l["weight"] for l in json.loads(proc.stdout)["layers"] if l.get("prunable") and l.get("weight")]


def make_recipe(weights: list[str], model: Path, recipe: Path, lines: int,
                overlap: bool = False) -> tuple[str, list[int]]:
    """A recipe of about `lines` lines; returns its text and the 0-based line of every pruning
    modifier's `final_sparsity`. Each modifier prunes two layers during a one-epoch window; a
    round of modifiers covers every layer once, and rounds never overlap in time, so no weight is
    pruned by two modifiers at once. `overlap`: every modifier over the same epochs, so each
    weight is pruned by every round's modifier at once (a `param-overlap` warning each)."""
    rel_model = os.path.relpath(model, recipe.parent)
    head = [
        f"# prunekit: model={rel_model}",
        f"# yaml-language-server: $schema={SCHEMA.as_uri()}",
        "# Generated by bench/lsp.py: GMPruning modifiers over ResNet-50's prunable weights.",
        "version: 1.1.0",
        "",
        "num_epochs: &num_epochs 60.0",
        "init_lr: 0.05",
        "",
        "training_modifiers:",
        "  - !EpochRangeModifier",
        "    start_epoch: 0.0",
        "    end_epoch: *num_epochs",
        "",
        "  - !LearningRateFunctionModifier",
        "    start_epoch: 0.0",
        "    end_epoch: *num_epochs",
        "    lr_func: cosine",
        "    init_lr: eval(init_lr)",
        "    final_lr: 0.0001",
        "",
        "pruning_modifiers:",
    ]
    out = list(head)
    sparsity_lines = []
    per_round = (len(weights) + 1) // 2
    i = 0
    while len(out) < lines - 15:
        rnd, k = divmod(i, per_round)
        names = [weights[(2 * k) % len(weights)], weights[(2 * k + 1) % len(weights)]]
        start = 1.0 if overlap else 1.0 + 0.5 * rnd
        out += ["  - !GMPruningModifier", "    params:"]
        out += [f"      - {n}" for n in dict.fromkeys(names)]
        out += [f"    init_sparsity: 0.05"]
        sparsity_lines.append(len(out))
        out += [f"    final_sparsity: {0.5 + 0.01 * (i % 40):.2f}",
                f"    start_epoch: {start:.1f}",
                f"    end_epoch: {start + 0.4:.1f}",
                "    update_frequency: 0.1",
                "    inter_func: cubic",
                "    mask_type: unstructured",
                "    leave_enabled: true",
                ""]
        i += 1
    text = "\n".join(out) + "\n"
    recipe.parent.mkdir(parents=True, exist_ok=True)
    recipe.write_text(text, encoding="utf-8")
    return text, sparsity_lines


# --- measurements -------------------------------------------------------------------------------

def pct(values: list[float], q: float) -> float:
    if not values:
        return float("nan")
    s = sorted(values)
    return s[min(len(s) - 1, max(0, round(q / 100 * (len(s) - 1))))]


def mentions_line(diags: list[dict], line: int) -> bool:
    return any(d["range"]["start"]["line"] <= line <= d["range"]["end"]["line"] for d in diags)


class Side:
    """One server under test and the document it holds."""

    def __init__(self, name: str, client: LspClient, uri: str, text: str, start_s: float):
        self.name, self.client, self.uri = name, client, uri
        self.lines = text.split("\n")
        self.version = 1
        self.start_s = start_s
        self.open_s = float("nan")
        self.baseline: list[dict] = []
        self.edit_ms: list[float] = []
        self.wrong: list[str] = []
        self.completion_ms: list[float] = []
        self.completion_items: list[int] = []
        self.example: str | None = None

    def open(self, language_id: str) -> None:
        since = self.client.mark()
        t0 = self.client.notify("textDocument/didOpen", {"textDocument": {
            "uri": self.uri, "languageId": language_id, "version": 1, "text": "\n".join(self.lines)}})
        t1, params = self.client.wait_diagnostics(self.uri, since, 1, timeout=120)
        self.open_s = t1 - t0
        self.baseline = params["diagnostics"]

    def edit(self, line: int, value: str, expect_error: bool) -> None:
        old = self.lines[line]
        key, _, _ = old.partition(": ")
        new = f"{key}: {value}"
        self.lines[line] = new
        self.version += 1
        since = self.client.mark()
        t0 = self.client.notify("textDocument/didChange", {
            "textDocument": {"uri": self.uri, "version": self.version},
            "contentChanges": [{"range": {"start": {"line": line, "character": len(key) + 2},
                                          "end": {"line": line, "character": len(old)}},
                                "text": value}]})
        t1, params = self.client.wait_diagnostics(self.uri, since, self.version)
        self.edit_ms.append((t1 - t0) * 1000)
        diags = params["diagnostics"]
        flagged = mentions_line(diags, line)
        if expect_error and flagged and self.example is None:
            d = next(d for d in diags if d["range"]["start"]["line"] <= line <= d["range"]["end"]["line"])
            self.example = f"{d.get('code', '')}: {d['message']}".strip(": ")
        if flagged != expect_error:
            self.wrong.append(f"version {self.version}, line {line + 1} `{new.strip()}`: "
                              f"{'no diagnostic' if expect_error else 'a stale diagnostic'} there")

    def complete(self, line: int, character: int) -> None:
        msg, dt = self.client.request("textDocument/completion", {
            "textDocument": {"uri": self.uri}, "position": {"line": line, "character": character}})
        result = msg.get("result")
        items = result.get("items", []) if isinstance(result, dict) else (result or [])
        self.completion_ms.append(dt * 1000)
        self.completion_items.append(len(items))

    def summary(self) -> dict:
        mem = self.client.memory_mb()
        return {
            "server": self.name,
            "start_to_initialized_ms": self.start_s * 1000,
            "open_to_diagnostics_ms": self.open_s * 1000,
            "baseline_diagnostics": len(self.baseline),
            "edits": len(self.edit_ms),
            "edit_to_diagnostics_ms": {"median": statistics.median(self.edit_ms) if self.edit_ms else None,
                                       "p95": pct(self.edit_ms, 95), "min": min(self.edit_ms, default=None),
                                       "max": max(self.edit_ms, default=None)},
            "edits_with_wrong_diagnostics": self.wrong,
            "diagnostic_for_the_bad_value": self.example,
            "completion_ms": {"median": statistics.median(self.completion_ms) if self.completion_ms else None,
                              "p95": pct(self.completion_ms, 95), "max": max(self.completion_ms, default=None)},
            "completion_items_median": statistics.median(self.completion_items) if self.completion_items else None,
            "rss_mb": mem.get("VmRSS"), "peak_rss_mb": mem.get("VmHWM"),
            "rss_anon_mb": mem.get("RssAnon"), "rss_file_mb": mem.get("RssFile"),
            "peak_rss_anon_mb_sampled": self.client.peak_anon_mb,
            "peak_rss_file_mb_sampled": self.client.peak_file_mb,
        }


def yamlls_settings() -> dict:
    return {"yaml": {
        "validate": True, "hover": True, "completion": True, "format": {"enable": False},
        "customTags": [f"!{t} mapping" for t in MODIFIER_TAGS],
        "schemaStore": {"enable": False}, "kubernetesCRDStore": {"enable": False},
        "yamlVersion": "1.1", "maxItemsComputed": 100000,
    }}


def version_of(argv: list[str]) -> str:
    try:
        return subprocess.run(argv, capture_output=True, text=True, timeout=10).stdout.strip().splitlines()[0]
    except Exception:
        return "?"


def fmt(v, unit="", digits=1) -> str:
    if v is None or (isinstance(v, float) and v != v):
        return "-"
    return f"{v:,.{digits}f}{unit}"


def main() -> int:
    ap = argparse.ArgumentParser(description="prunekit-lsp vs yaml-language-server on a 5,000-line recipe.")
    ap.add_argument("--lines", type=int, default=5000, help="recipe length (default: %(default)s)")
    ap.add_argument("--edits", type=int, default=50, help="timed edits per server (default: %(default)s)")
    ap.add_argument("--warmup-edits", type=int, default=4, help="untimed edits first (default: %(default)s)")
    ap.add_argument("--completions", type=int, default=50, help="timed completions (default: %(default)s)")
    ap.add_argument("--overlap", action="store_true",
                    help="every pruning modifier over the same epochs (param-overlap on every weight)")
    ap.add_argument("--only", choices=["prunekit", "yaml-language-server"], help="run one server only")
    ap.add_argument("--json", metavar="OUT", help="also write the figures as JSON to OUT")
    ap.add_argument("--check", action="store_true", help="exit 1 when a target is missed")
    ap.add_argument("--model", type=Path, default=DEFAULT_MODEL, help="default: %(default)s")
    ap.add_argument("--binary", type=Path, default=DEFAULT_LSP, help="prunekit-lsp (default: %(default)s)")
    ap.add_argument("--kernel", type=Path, default=DEFAULT_KERNEL, help="prunekit-kernel, for layer names")
    ap.add_argument("--yaml-ls", type=Path, default=DEFAULT_YAMLLS, help="default: %(default)s")
    ap.add_argument("--node", default=shutil.which("node") or "node", help="node executable")
    args = ap.parse_args()

    run_prunekit = args.only in (None, "prunekit")
    run_yamlls = args.only in (None, "yaml-language-server")
    if not args.model.is_file():
        sys.exit(f"{args.model} is missing: run `.venv/bin/python bench/make_resnet50.py` first.")
    if not args.kernel.is_file():
        sys.exit(f"{args.kernel} is missing: run `make release` first.")
    if run_prunekit and not args.binary.is_file():
        sys.exit(f"{args.binary} is missing: run `make release` first.")
    if run_yamlls and not args.yaml_ls.is_file():
        sys.exit(f"{args.yaml_ls} is missing: run `(cd bench && npm ci)` first.")
    if run_yamlls and not shutil.which(args.node):
        sys.exit("node is not on PATH: install Node 20 or newer (apt-get install nodejs).")

    OUT_DIR.mkdir(parents=True, exist_ok=True)
    weights = prunable_weights(args.kernel, args.model)
    recipe = OUT_DIR / "resnet50.recipe.yaml"
    text, sparsity_lines = make_recipe(weights, args.model, recipe, args.lines, args.overlap)
    n_lines = text.count("\n")
    print(f"recipe: {recipe.relative_to(ROOT)}: {n_lines:,} lines, {len(sparsity_lines)} GMPruning "
          f"modifiers over {len(weights)} prunable weights of {args.model.name}")

    sides: list[Side] = []
    try:
        if run_prunekit:
            client, dt = start_server("prunekit-lsp", [str(args.binary), "--stdio"], None,
                                      OUT_DIR / "prunekit-lsp.log")
            sides.append(Side("prunekit-lsp", client, recipe.as_uri(), text, dt))
        if run_yamlls:
            client, dt = start_server("yaml-language-server",
                                      [args.node, str(args.yaml_ls), "--stdio"], yamlls_settings(),
                                      OUT_DIR / "yaml-language-server.log")
            sides.append(Side("yaml-language-server", client, recipe.as_uri(), text, dt))

        for s in sides:
            s.open("yaml")
            print(f"{s.name}: first diagnostics {s.open_s * 1000:,.0f} ms after didOpen, "
                  f"{len(s.baseline)} on the unedited recipe")
            for d in s.baseline[:5]:
                print(f"    line {d['range']['start']['line'] + 1}: {d.get('code', '')} {d['message'][:100]}")

        # Edits: modifier m gets 1.5 (an error), the next edit puts the old value back.
        plan = []
        for k in range(args.warmup_edits + args.edits):
            m = (k // 2 * 37) % len(sparsity_lines)
            line = sparsity_lines[m]
            bad = k % 2 == 0
            value = BAD_SPARSITY if bad else text.split("\n")[line].partition(": ")[2]
            plan.append((line, value, bad))
        for k, (line, value, bad) in enumerate(plan):
            for s in (sides if k % 2 == 0 else sides[::-1]):
                s.edit(line, value, bad)
            if k + 1 == args.warmup_edits:
                for s in sides:
                    s.edit_ms.clear()

        # Completion at a params list: the first item of a spread of modifiers, cursor after "- ".
        for k in range(args.completions + 5):
            m = (k * 53) % len(sparsity_lines)
            item_line = sparsity_lines[m] - 2  # the last params item (init_sparsity is in between)
            while not text.split("\n")[item_line].startswith("      - "):
                item_line -= 1
            for s in (sides if k % 2 == 0 else sides[::-1]):
                s.complete(item_line, len("      - "))
            if k == 4:
                for s in sides:
                    s.completion_ms.clear()
                    s.completion_items.clear()

        results = [s.summary() for s in sides]
    finally:
        for s in sides:
            s.client.close()

    by = {r["server"]: r for r in results}
    pk, yl = by.get("prunekit-lsp"), by.get("yaml-language-server")
    rows = [
        ("start -> initialize answered", "start_to_initialized_ms", None, "ms"),
        ("didOpen -> first diagnostics", "open_to_diagnostics_ms", None, "ms"),
        ("edit -> diagnostics, median", "edit_to_diagnostics_ms", "median", "ms"),
        ("edit -> diagnostics, p95", "edit_to_diagnostics_ms", "p95", "ms"),
        ("completion at params, median", "completion_ms", "median", "ms"),
        ("completion at params, p95", "completion_ms", "p95", "ms"),
        ("completion items (median)", "completion_items_median", None, ""),
        ("RSS after the run", "rss_mb", None, "MB"),
        ("  of it anonymous (heap)", "rss_anon_mb", None, "MB"),
        ("peak RSS (VmHWM)", "peak_rss_mb", None, "MB"),
        ("  peak anonymous (sampled 5 ms)", "peak_rss_anon_mb_sampled", None, "MB"),
        ("  peak file-backed (sampled 5 ms)", "peak_rss_file_mb_sampled", None, "MB"),
    ]

    def get(r, key, sub):
        if r is None:
            return None
        v = r[key]
        return v.get(sub) if sub else v

    print()
    print(f"{'':34} {'prunekit-lsp':>14} {'yaml-language-server':>21} {'ratio':>8}")
    for label, key, sub, unit in rows:
        a, b = get(pk, key, sub), get(yl, key, sub)
        ratio = f"{b / a:,.1f}x" if a and b and unit in ("ms", "MB") else ""
        digits = 0 if unit == "" else 1
        print(f"{label:34} {fmt(a, ' ' + unit if unit else '', digits):>14} "
              f"{fmt(b, ' ' + unit if unit else '', digits):>21} {ratio:>8}")
    if yl:
        med = yl["edit_to_diagnostics_ms"]["median"]
        print(f"{'  yaml-ls median minus its 200 ms debounce':34} {'':>14} "
              f"{fmt(med - YAMLLS_DEBOUNCE_MS, ' ms'):>21}")
    for r in results:
        print(f"{r['server']} on `final_sparsity: {BAD_SPARSITY}`: {r['diagnostic_for_the_bad_value']}")
    for r in results:
        if r["edits_with_wrong_diagnostics"]:
            print(f"{r['server']}: {len(r['edits_with_wrong_diagnostics'])} of {r['edits']} timed edits "
                  f"got diagnostics that do not match the text, e.g. {r['edits_with_wrong_diagnostics'][0]}")

    checks = {}
    if pk:
        checks["completion_p95_ms"] = (pk["completion_ms"]["p95"], TARGETS["completion_p95_ms"],
                                       pk["completion_ms"]["p95"] <= TARGETS["completion_p95_ms"])
        checks["rss_after_run_mb"] = (pk["rss_mb"], TARGETS["rss_mb"], pk["rss_mb"] <= TARGETS["rss_mb"])
        checks["peak_rss_mb"] = (pk["peak_rss_mb"], TARGETS["rss_mb"], pk["peak_rss_mb"] <= TARGETS["rss_mb"])
    if pk and yl:
        speedup = yl["edit_to_diagnostics_ms"]["median"] / pk["edit_to_diagnostics_ms"]["median"]
        checks["diagnostics_speedup"] = (speedup, TARGETS["diagnostics_speedup"],
                                         speedup >= TARGETS["diagnostics_speedup"])
    print()
    for name, (value, target, ok) in checks.items():
        cmp = ">=" if name == "diagnostics_speedup" else "<="
        print(f"target {name}: {value:,.1f} ({cmp} {target:g}) {'met' if ok else 'MISSED'}")

    report = {
        "recipe": {"path": str(recipe.relative_to(ROOT)), "lines": n_lines,
                   "modifiers": len(sparsity_lines), "weights": len(weights), "model": str(args.model)},
        "edits": args.edits, "warmup_edits": args.warmup_edits, "completions": args.completions,
        "results": results,
        "targets": {k: {"value": v, "target": t, "met": ok} for k, (v, t, ok) in checks.items()},
        "yaml_language_server_debounce_ms": YAMLLS_DEBOUNCE_MS,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count(),
                    "python": platform.python_version(),
                    "node": version_of([args.node, "--version"]) if run_yamlls else None},
    }
    if args.json:
        Path(args.json).parent.mkdir(parents=True, exist_ok=True)
        Path(args.json).write_text(json.dumps(report, indent=2) + "\n", encoding="utf-8")
        print(f"\nwrote {args.json}")
    if args.check and not all(ok for _, _, ok in checks.values()):
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
