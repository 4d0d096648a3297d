"""Collects the recipe corpus (tests/recipes/corpus) from local mirrors of public repositories.

Each recipe is copied verbatim from a git blob; SOURCES.json records repository, path, commit,
licence and the tool the recipe was written for. Besides the newest version of every recipe, the
corpus keeps older versions that were broken (their tool rejects them; with --all-versions every
older version is a candidate, and --prune drops those the tool accepts after bench/recipe_corpus.py
has judged them) and every version replaced by a commit that says it fixes something.

    python3 bench/recipe_corpus_collect.py --all-versions MIRROR_ROOT  # <owner>+<repo>/repo: git dirs
    .venv-recipes/bin/python bench/recipe_corpus.py                    # verdicts of every version
    python3 bench/recipe_corpus_collect.py --prune                     # older versions: broken only
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CORPUS = ROOT / "tests" / "recipes" / "corpus"
MAX_BYTES = 200_000

# repository -> (licence read from its LICENSE file, tool its recipes target when not staged)
REPOS = {
    "neuralmagic/sparseml": ("Apache-2.0", "sparseml"),
    "mcx/sparseml": ("Apache-2.0", "sparseml"),
    "xloem/sparseml": ("Apache-2.0", "sparseml"),
    "vllm-project/llm-compressor": ("Apache-2.0", "llm-compressor"),
}
# forks whose other branches are read too (their master only repeats neuralmagic/sparseml's)
FORKS = {"mcx/sparseml", "xloem/sparseml"}
# Ultralytics-derived folders carry the Ultralytics licence, not Apache-2.0: left out.
EXCLUDED_PATH = re.compile(r"ultralytics|yolov[358]|/\.github/|status\.yaml$|workflow", re.I)
RECIPE_PATH = re.compile(r"\.(ya?ml|md)$", re.I)
TAGGED = re.compile(r"^\s*(-\s*)?!\w+Modifier\b", re.M)
STAGED = re.compile(r"^\s+\w+Modifier:\s*(#.*)?$", re.M)
FIX_SUBJECT = re.compile(r"\b(fix|fixes|fixed|bug|typo|correct|broken|repair)", re.I)


def git(repo: Path, *args: str) -> str:
    return subprocess.run(["git", "-c", "core.quotepath=off", "-C", str(repo), *args], capture_output=True, text=True,
                          check=True).stdout


def blob(repo: Path, commit: str, path: str) -> bytes | None:
    proc = subprocess.run(["git", "-C", str(repo), "show", f"{commit}:{path}"], capture_output=True)
    return proc.stdout if proc.returncode == 0 else None


def recipe_text(data: bytes, path: str) -> str | None:
    """The text when it is a recipe SparseML or llm-compressor would load from this file."""
    if len(data) > MAX_BYTES:
        return None
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        return None
    if path.lower().endswith(".md") and not re.search(r"^\s*---\s*$", text, re.M):
        return None  # a tutorial or README, not a recipe card (SparseML finds `---` on any line)
    if not (TAGGED.search(text) or STAGED.search(text)):
        return None
    if re.search(r"^(recipe|recipe_args|cadence|test_type|model|dataset):", text, re.M) and not (
            re.search(r"^\w*(modifiers|_stage)\w*:", text, re.M)):
        return None  # a test or training config that names a recipe, not a recipe itself
    return text


def tool_for(repo_tool: str, text: str) -> str:
    if repo_tool == "llm-compressor":
        return "llm-compressor"
    return "sparseml-legacy" if TAGGED.search(text) else "sparseml-core-staged"


def sparseml_release(git_dir: Path, rev: str, path: str) -> str:
    """The SparseML release a staged recipe was written for: 1.7.0 when this version of the file
    is in the 1.7.0 release's history, else 1.8.0 (the last release, which added GPTQModifier and
    the quantization modifiers of compressed-tensors)."""
    written = git(git_dir, "log", "-1", "--format=%H", rev, "--", path).strip()
    proc = subprocess.run(["git", "-C", str(git_dir), "merge-base", "--is-ancestor", written,
                           "v1.7.0"], capture_output=True)
    return "1.7.0" if proc.returncode == 0 else "1.8.0"


def stored_name(repo: str, path: str, commit: str | None) -> str:
    flat = path.replace("/", "__")
    if commit:
        stem, dot, ext = flat.rpartition(".")
        flat = f"{stem}__at-{commit[:10]}.{ext}"
    return f"{repo.replace('/', '__')}/{flat}"


def forked(repo: str, licence: str, repo_tool: str, git_dir: Path, work: list) -> None:
    """A fork's branches hold SparseML's research and experiment branches (AC/DC, torchvision,
    Llama 2 quantization): the newest version of each recipe path on any branch."""
    paths = sorted({p for p in git(git_dir, "log", "--all", "--name-only", "--format=").split("\n")
                    if RECIPE_PATH.search(p) and not EXCLUDED_PATH.search(p)})
    for path in paths:
        last = git(git_dir, "log", "--all", "-1", "--format=%H\t%s", "--", path).strip()
        if not last:
            continue
        sha = last.split("\t", 1)[0]
        rev = sha if blob(git_dir, sha, path) is not None else f"{sha}^"
        work.append((repo, licence, repo_tool, git_dir, path, [last.split("\t", 1)], [(rev, None)]))


def collect(mirror_root: Path, all_versions: bool) -> list[dict]:
    entries: list[dict] = []
    seen: set[str] = set()  # a fork's copy of a recipe already collected is not collected twice
    work: list[tuple] = []
    later: list[tuple] = []
    for repo, (licence, repo_tool) in REPOS.items():
        git_dir = mirror_root / repo.replace("/", "+") / "repo"
        head = git(git_dir, "rev-parse", "HEAD").strip()
        if repo in FORKS:
            forked(repo, licence, repo_tool, git_dir, work)
            continue
        paths = sorted({p for p in git(git_dir, "log", "--name-only", "--format=", "HEAD").split("\n")
                        if RECIPE_PATH.search(p) and not EXCLUDED_PATH.search(p)})
        at_head = set(git(git_dir, "ls-tree", "-r", "--name-only", "HEAD").split("\n"))
        for path in paths:
            history = [line.split("\t", 1) for line in
                       git(git_dir, "log", "--format=%H\t%s", "HEAD", "--", path).strip().split("\n")
                       if line]
            if not history:
                continue
            if path in at_head:
                newest = head
            else:  # deleted: its last version is in the parent of the deleting commit
                newest = git(git_dir, "rev-parse", f"{history[0][0]}^").strip()
            work.append((repo, licence, repo_tool, git_dir, path, history, [(newest, None)]))
            older = [(f"{sha}^", sha) for sha, subject in history
                     if all_versions or FIX_SUBJECT.search(subject)]
            later.append((repo, licence, repo_tool, git_dir, path, history, older))
    # every recipe's newest version first, so that an older version of one file that equals the
    # newest of another is not what the corpus keeps of it
    for repo, licence, repo_tool, git_dir, path, history, versions in work + later:
        for rev, fixed_by in versions:
            data = blob(git_dir, rev, path)
            if data is None:
                continue
            text = recipe_text(data, path)
            if text is None or text in seen:
                continue
            seen.add(text)
            commit = git(git_dir, "rev-parse", rev).strip()
            name = stored_name(repo, path, commit if fixed_by else None)
            target = CORPUS / name
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(data)
            entry = {"file": name, "repo": repo, "path": path, "commit": commit,
                     "licence": licence, "tool": tool_for(repo_tool, text)}
            if entry["tool"] == "sparseml-core-staged":
                entry["release"] = sparseml_release(git_dir, rev, path)
            if fixed_by:
                entry["fixed_by"] = fixed_by
                entry["fix_subject"] = dict(history)[fixed_by]
                if not FIX_SUBJECT.search(entry["fix_subject"]):
                    entry["candidate"] = True  # kept only if its tool rejects it (--prune)
            entries.append(entry)
    return entries


def prune() -> None:
    """Drops the older versions (`candidate`) that their tool accepts: of a recipe's history the
    corpus keeps the versions that were broken, and those replaced by a commit that says it fixes."""
    entries = json.loads((CORPUS / "SOURCES.json").read_text())
    verdicts = json.loads((CORPUS / "verdicts.json").read_text())
    kept = []
    for entry in entries:
        if entry.pop("candidate", False) and verdicts[entry["file"]]["verdict"] == "accepted":
            (CORPUS / entry["file"]).unlink()
            verdicts.pop(entry["file"])
        else:
            kept.append(entry)
    (CORPUS / "SOURCES.json").write_text(json.dumps(kept, indent=1) + "\n")
    (CORPUS / "verdicts.json").write_text(json.dumps(verdicts, indent=1, sort_keys=True) + "\n")
    print(f"kept {len(kept)} of {len(entries)} recipes")


def main() -> None:
    if sys.argv[1:] == ["--prune"]:
        prune()
        return
    args = [a for a in sys.argv[1:] if a != "--all-versions"]
    mirror_root = Path(args[0] if args else "/work/.mirror")
    for old in CORPUS.glob("*/*"):
        old.unlink()
    entries = collect(mirror_root, "--all-versions" in sys.argv)
    (CORPUS / "SOURCES.json").write_text(json.dumps(entries, indent=1) + "\n")
    by_tool: dict[str, int] = {}
    for e in entries:
        by_tool[e["tool"]] = by_tool.get(e["tool"], 0) + 1
    print(f"{len(entries)} recipes: {by_tool}")


if __name__ == "__main__":
    main()
