"""Runs mutants through the real binary and checks the property every run must have: it ends on
its own (no signal, no timeout, within a memory cap), prints no panic, internal error or backtrace,
and either succeeds or fails with exactly one error line `prunekit: SENTENCE.` (or `Name:
SENTENCE.` with one of the documented error names) and exit status 1 or 2.

Stages, each a separate process under the same limits:
- `analyze`: `prunekit-kernel analyze MODEL --format json`, every mutant;
- `load`: `prunekit-kernel run 'load MODEL'`, every mutant (also writes the project file);
- `pipeline`: `run 'load MODEL' 'profile perf ...' 'optimize' 'export model OUT.onnx'`, for
  mutants that analyze cleanly (up to a share of the cases), so damage that parses reaches ONNX
  Runtime, the fit and the writer;
- `reload`: `analyze OUT.onnx` after a pipeline that succeeded: prunekit must read back what it
  wrote, so here a clean error is a failure too.
"""

from __future__ import annotations

import os
import re
import resource
import signal
import subprocess
import tempfile
import time
from collections import Counter
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Callable, Optional

from . import mutate

REPO_ROOT = Path(__file__).resolve().parent.parent.parent
BINARY = REPO_ROOT / "target" / "release" / "prunekit-kernel"

# The address-space cap every run gets: a user-sized allocation that a corrupt file inflates must
# be refused with a sentence, not attempted.
MEMORY_CAP = 4 << 30
# Far above what any fixture needs (analyze: milliseconds; the pipeline: well under a second),
# so only a hang or a runaway loop reaches them, even on a loaded machine.
TIMEOUTS = {"analyze": 20.0, "load": 20.0, "pipeline": 90.0, "reload": 20.0}
STAGES = ("analyze", "load", "pipeline", "reload")

EXPORTED = "pruned.onnx"
# One ONNX Runtime thread: the memory cap is on address space, which every thread's stack and
# malloc arena takes from, so a many-core machine would otherwise hit it without using memory.
PIPELINE = ["profile perf --iterations 2 --warmup 1 --threads 1", "optimize",
            f"export model {EXPORTED}"]

ERROR_NAMES = ("ModelError", "IoError", "UsageError", "RuntimeMissing", "RuntimeError",
               "KeyboardInterrupt")
ERROR_LINE = re.compile(r"^(?:prunekit|" + "|".join(ERROR_NAMES) + r"): (?P<sentence>\S.*)$")
FORBIDDEN = ("panicked", "internal error", "RUST_BACKTRACE", "stack backtrace",
             "memory allocation of", "core dumped", "Segmentation fault", "Aborted")


@dataclass
class Outcome:
    stage: str
    # "ok", "error" (a clean error), "known" (a failure a KNOWN entry accounts for), or "FAIL".
    status: str
    detail: str = ""
    returncode: int | None = None
    seconds: float = 0.0
    stderr: str = ""
    known: list[str] = field(default_factory=list)

    @property
    def failed(self) -> bool:
        return self.status == "FAIL"


@dataclass
class CaseResult:
    case: int
    description: str
    family: str
    fixture: str
    outcomes: list[Outcome] = field(default_factory=list)

    @property
    def failures(self) -> list[Outcome]:
        return [o for o in self.outcomes if o.failed]


def _limits():
    resource.setrlimit(resource.RLIMIT_AS, (MEMORY_CAP, MEMORY_CAP))
    resource.setrlimit(resource.RLIMIT_CORE, (0, 0))


def run_binary(args: list[str], cwd: Path, timeout: float) -> tuple[int | None, str, str, float]:
    """(returncode or None on timeout, stdout, stderr, seconds)."""
    env = dict(os.environ)
    env.pop("RUST_BACKTRACE", None)
    # glibc reserves address space for each malloc arena, and the memory cap counts it.
    env["MALLOC_ARENA_MAX"] = "2"
    started = time.monotonic()
    proc = subprocess.Popen([str(BINARY), *args], cwd=cwd, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, stdin=subprocess.DEVNULL, env=env,
                            preexec_fn=_limits,
                            # Its own process group, so a timeout kills any child too.
                            start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
        code = proc.returncode
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        out, err = proc.communicate()
        code = None
    return (code, out.decode("utf-8", "replace"), err.decode("utf-8", "replace"),
            time.monotonic() - started)


def check(stage: str, code: int | None, out: str, err: str, seconds: float,
          timeout: float | None = None) -> Outcome:
    """The property, for one run (`code` None: it ran past `timeout`, by default the stage's)."""
    def outcome(status, detail=""):
        return Outcome(stage, status, detail, code, seconds, err[-2000:])

    if code is None:
        limit = timeout if timeout is not None else TIMEOUTS[stage]
        return outcome("FAIL", f"no answer within {limit:.0f} s (a hang)")
    if code < 0:
        name = signal.Signals(-code).name if -code in signal.Signals._value2member_map_ else -code
        return outcome("FAIL", f"killed by {name}")
    for text in (out, err):
        for word in FORBIDDEN:
            if word in text:
                return outcome("FAIL", f"prints {word!r}")
    lines = [line for line in err.splitlines() if line.strip()]
    if code == 0:
        if any(ERROR_LINE.match(line) for line in lines):
            return outcome("FAIL", "exit status 0 with an error line")
        return outcome("ok")
    if code not in (1, 2):
        return outcome("FAIL", f"exit status {code}")
    if len(lines) != 1:
        return outcome("FAIL", f"{len(lines)} lines on stderr, not one error line")
    match = ERROR_LINE.match(lines[0])
    if not match:
        return outcome("FAIL", "the stderr line is not `prunekit: SENTENCE` or `Name: SENTENCE`")
    sentence = match["sentence"]
    if not sentence.rstrip().endswith((".", "?", "!")):
        return outcome("FAIL", "the error is not a whole sentence (no final period)")
    return outcome("error", sentence)


# explain(stage, returncode, stdout, stderr, mutant description, outcome) -> the ids of the
# known defects that account for a failed run, or [] (tests/test_fuzz_models.py's KNOWN).
Explain = Callable[[str, Optional[int], str, str, str, Outcome], list]


def run_case(seed: int, case: int, pipeline: bool, keep: Path | None = None,
             explain: Explain | None = None) -> CaseResult:
    """Builds one mutant in a fresh folder (or `keep`) and runs it through the stages."""
    with tempfile.TemporaryDirectory(prefix="prunekit-fuzz-") as tmp:
        folder = Path(keep) if keep else Path(tmp) / "case"
        mutant = mutate.make(seed, case, folder)
        result = CaseResult(case, mutant.describe(), mutant.family, mutant.fixture)
        model = mutate.MODEL_NAME

        def stage(name: str, args: list[str]) -> Outcome:
            code, out, err, secs = run_binary(args, folder, TIMEOUTS[name])
            outcome = check(name, code, out, err, secs)
            if outcome.failed and explain:
                known = explain(name, code, out, err, result.description, outcome)
                if known:
                    outcome.status, outcome.known = "known", known
            result.outcomes.append(outcome)
            return outcome

        analyzed = stage("analyze", ["analyze", model, "--format", "json"])
        stage("load", ["run", f"load {model}"])
        if pipeline and analyzed.status == "ok":
            ran = stage("pipeline", ["run", f"load {model}", *PIPELINE])
            if ran.status == "ok":
                reloaded = stage("reload", ["analyze", EXPORTED, "--format", "json"])
                if reloaded.status == "error":
                    reloaded.status = "FAIL"
                    reloaded.detail = f"prunekit refuses the model it exported: {reloaded.detail}"
        return result


def _work(args):
    return run_case(*args)


@dataclass
class Campaign:
    seed: int
    cases: int
    seconds: float
    results: list[CaseResult]

    def counts(self) -> dict[str, Counter]:
        counts = {stage: Counter() for stage in STAGES}
        for r in self.results:
            for o in r.outcomes:
                counts[o.stage][o.status] += 1
        return counts

    def summary(self) -> str:
        lines = [f"{self.cases} mutants (seed {self.seed}) in {self.seconds:.1f} s:"]
        for stage, c in self.counts().items():
            total = sum(c.values())
            known = f", {c['known']} known failures" if c["known"] else ""
            lines.append(f"  {stage:<9} {total:5} runs: {c['ok']} ok, {c['error']} clean errors, "
                         f"{c['FAIL']} failures{known}")
        families = Counter(r.family for r in self.results)
        lines.append("  families: " + ", ".join(f"{k} {v}" for k, v in sorted(families.items())))
        return "\n".join(lines)


def campaign(seed: int, cases: int, pipeline_every: int = 1, jobs: int = 2, first: int = 0,
             explain: Explain | None = None) -> Campaign:
    """Cases `first..first+cases` of `seed`; every `pipeline_every`-th case that analyzes cleanly
    also goes through the pipeline."""
    started = time.monotonic()
    work = [(seed, i, i % pipeline_every == 0, None, explain) for i in range(first, first + cases)]
    with ProcessPoolExecutor(max_workers=jobs) as pool:
        results = list(pool.map(_work, work, chunksize=4))
    return Campaign(seed, cases, time.monotonic() - started, results)
