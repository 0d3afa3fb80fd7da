"""The README's measured figures come from results in the repository, and those are current.

Every `benchmarks/results/…` file the READMEs cite exists; every saved bench result names the
commit it was measured at, that commit is in this checkout's history, and the models it
measured have not changed since (a new drafter makes its figures stale); and the figures the
README quotes are the ones in those files, as the README rounds them.
"""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
RESULTS = ROOT / "benchmarks" / "results"
READMES = (ROOT / "README.md", ROOT / "benchmarks" / "README.md")
CITED = re.compile(r"(?:benchmarks/)?results/([\w.{},-]+)")


def cited_results() -> set[str]:
    """The results files the READMEs name, `a-{x,y}.txt` expanded."""
    names: set[str] = set()
    for readme in READMES:
        for match in CITED.finditer(readme.read_text(encoding="utf-8")):
            names.update(expand_braces(match.group(1).rstrip(".,")))
    return {name for name in names if "*" not in name and name}


def expand_braces(name: str) -> list[str]:
    match = re.search(r"\{([^}]*)\}", name)
    if match is None:
        return [name]
    head, tail = name[: match.start()], name[match.end() :]
    return [
        full for part in match.group(1).split(",") for full in expand_braces(head + part + tail)
    ]


def saved_results() -> list[Path]:
    return sorted(RESULTS.glob("*.json"))


def result(name: str) -> dict[str, Any]:
    return json.loads((RESULTS / name).read_text(encoding="utf-8"))


def git(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(["git", "-C", str(ROOT), *args], capture_output=True, text=True)


def test_every_cited_result_exists() -> None:
    cited = cited_results()
    assert cited, "the READMEs cite their results"
    missing = sorted(name for name in cited if not (RESULTS / name).is_file())
    assert not missing, f"cited but not in benchmarks/results/: {missing}"


def test_every_saved_result_is_cited() -> None:
    """A result nobody quotes is a stale number waiting to be read as current."""
    cited = cited_results()
    uncited = sorted(path.name for path in saved_results() if path.name not in cited)
    assert not uncited, f"in benchmarks/results/ but cited by no README: {uncited}"


@pytest.mark.parametrize("path", saved_results(), ids=lambda path: path.name)
def test_a_saved_result_names_a_clean_commit_of_this_history(path: Path) -> None:
    commit = json.loads(path.read_text(encoding="utf-8"))["settings"].get("commit")
    assert commit, f"{path.name} does not name the commit it measured"
    assert not commit.endswith("+dirty"), f"{path.name} was measured on uncommitted code"
    if git("rev-parse", "--is-inside-work-tree").returncode != 0:
        pytest.skip("not a git checkout")
    if git("cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        if git("rev-parse", "--is-shallow-repository").stdout.strip() == "true":
            pytest.skip("a shallow clone lacks the measured commit")
        pytest.fail(f"{path.name}: commit {commit} is not in this repository")
    assert git("merge-base", "--is-ancestor", commit, "HEAD").returncode == 0, (
        f"{path.name}: commit {commit} is not an ancestor of HEAD"
    )


@pytest.mark.parametrize("path", saved_results(), ids=lambda path: path.name)
def test_the_models_a_result_measured_are_unchanged_since(path: Path) -> None:
    settings = json.loads(path.read_text(encoding="utf-8"))["settings"]
    commit = settings["commit"]
    if git("cat-file", "-e", f"{commit}^{{commit}}").returncode != 0:
        pytest.skip("the measured commit is not in this checkout")
    for role in ("drafter", "verifier"):
        shipped = shipped_model_directory(str(settings[role]))
        if shipped is None:
            continue  # a model from outside the repository (a GGUF file, a synthetic pair)
        changed = git("diff", "--name-only", commit, "HEAD", "--", shipped).stdout.split()
        assert not changed, (
            f"{path.name} measured the {role} at {commit[:7]}; it has changed since "
            f"({', '.join(changed)}): rerun the command its README section names"
        )


def shipped_model_directory(model: str) -> str | None:
    """`spectui/models/<name>` when `model` is one of the models the package ships."""
    match = re.search(r"spectui/models/[\w.-]+", model)
    return match.group(0) if match else None


def ratio(value: float) -> str:
    return f"{value:.2f}×"


def quoted(figure: float | None) -> str:
    return "not run" if figure is None else ratio(figure)


@pytest.mark.parametrize(
    ("name", "label"),
    [("bundled.json", "bundled"), ("gpt2.json", "GPT-2 → GPT-2-medium shapes, random weights")],
)
def test_the_readme_quotes_the_pair_table_from_its_results(name: str, label: str) -> None:
    data = result(name)
    row = (
        f"| {label} (α = {data['alpha']:.2f}) | {quoted(data['ratio_vs_hf_assisted'])} | "
        f"{quoted(data['ratio_vs_seed'])} | {quoted(data['speedup_vs_plain'])} / "
        f"{quoted(data['predicted_speedup'])} |"
    )
    assert row in (ROOT / "README.md").read_text(encoding="utf-8")


def test_the_readme_quotes_the_default_pairs_six_prompt_run() -> None:
    data = result("smollm2-six.json")
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    assert f"commit {data['settings']['commit'][:7]}" in readme
    methods = data["methods"]
    plain = methods["plain"]["tokens_per_second"]["median"]
    assert f"| plain `generate` | {plain:.1f} | 1 | ✓ |" in readme
    best = next(span for span in data["spans"] if span["k"] == data["best_k"])
    speedup, tokens_per_second = best["measured_speedup"], methods[best["key"]]["tokens_per_second"]
    assert (
        f"| {tokens_per_second['median']:.1f} | **{ratio(speedup['median'])}** "
        f"({speedup['min']:.2f}–{speedup['max']:.2f}) | ✓ |"
    ) in readme
    assert f"**greedy-exact, k = {data['best_k']}** (α {best['alpha']:.2f}" in readme
