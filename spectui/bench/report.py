"""The benchmark's figures as rich tables (the same dict `--json` prints)."""

from __future__ import annotations

from typing import Any

from rich.console import Console, Group
from rich.table import Table
from rich.text import Text


def render(result: dict[str, Any]) -> Group:
    """Header, headline ratios, speed and work per method, the cost model, the oracle sweep."""
    return Group(
        _header(result),
        _headline(result),
        _speed_table(result),
        _work_table(result),
        _drafting_table(result),
        _span_table(result),
        _kernel_table(result),
        _kernel_plot(result),
        _cost_table(result),
        _oracle_table(result),
        _category_table(result),
    )


# Columns the report is laid out in when stdout is no terminal: a file or a pipe gets every
# cell whole (the widest table, the kernel table, needs ~150), not rich's default 80.
WIDE_REPORT = 180


def print_report(result: dict[str, Any], console: Console | None = None) -> None:
    """Print the report to the terminal (to a file or a pipe: wide, never cut)."""
    if console is None:
        console = Console()
        if not console.is_terminal:
            console = Console(width=WIDE_REPORT)
    console.print(render(result))


def _header(result: dict[str, Any]) -> Text:
    machine, versions, settings = result["machine"], result["versions"], result["settings"]
    loads = (machine["load_average_before"], machine["load_average_after"])
    load = " → ".join("/".join(f"{v:.2f}" for v in pair) for pair in loads if pair) or "n/a"
    lines = [
        f"machine   {machine['cpu']}, {machine['cpu_count']} CPUs, {machine['platform']}; "
        f"load average (1/5/15 min) {load}",
        f"versions  spectui {result['spectui']}, python {versions['python']}, "
        f"torch {versions['torch']}, transformers {versions['transformers']}",
        f"pair      drafter {settings['drafter']} ({settings['drafter_parameters'] / 1e6:.1f}M)"
        f" → verifier {settings['verifier']} ({settings['verifier_parameters'] / 1e6:.1f}M)",
        f"settings  {settings['device']} {settings['dtype']} on {settings.get('kernels')}, "
        f"threads {settings['threads']}, commit {settings.get('commit') or 'n/a'}, "
        f"k={settings['k']}, {settings['new_tokens']} new tokens (EOS off), bonus on, "
        f"{len(settings['prompts'])} prompt(s) × {settings['repeats']} interleaved repeat(s), "
        f"{result['elapsed_seconds']:.0f} s",
    ]
    if settings["new_tokens"] < settings["new_tokens_requested"]:
        lines.append(
            f"note      {settings['new_tokens_requested']} new tokens do not fit the context; "
            f"{settings['new_tokens']} used"
        )
    return Text("\n".join(lines) + "\n")


def _headline(result: dict[str, Any]) -> Text:
    model = result["engine_vs_model"]
    factors = model["gap_factors"]
    not_run = result.get("not_run", {})
    at_measured = model["predicted_speedup_at_measured_tokens_per_round"]
    lines = [
        f"greedy-exact engine vs HF assisted generation (same k): "
        f"{_times(result['ratio_vs_hf_assisted'], not_run.get('hf_assisted'))}",
        f"greedy-exact engine vs the seed's algorithm: "
        f"{_times(result['ratio_vs_seed'], not_run.get('seed'))}",
        f"greedy-exact engine vs plain generate: {_times(result['speedup_vs_plain'])} measured, "
        f"{_times(result['predicted_speedup'])} predicted by the cost model at "
        f"α={_num(result['alpha'], 2)} ({at_measured:.2f}× "
        f"at the measured {model['tokens_per_round']:.2f} tokens/round); "
        f"verifier forwards per round {_num(result['verifier_forwards_per_round'], 2)}",
        f"  measured/predicted = {factors['tokens_per_round']:.3f} (tokens/round vs formula) × "
        f"{factors['round_cost']:.3f} (round cost, model vs measured) × "
        f"{factors['plain_loop']:.3f} (plain generate's step vs the bare verifier step)",
    ]
    return Text("\n".join(lines) + "\n", style="bold")


def _main_methods(result: dict[str, Any]) -> list[dict[str, Any]]:
    """The five compared methods (the oracle runs have their own table)."""
    return [summary for key, summary in result["methods"].items() if not key.startswith("oracle_")]


def _speed_table(result: dict[str, Any]) -> Table:
    table = Table(
        title="Speed (tokens/s: median (min–max) over repeats; ratios paired per repeat)",
        title_justify="left",
    )
    table.add_column("method")
    for name in ("tokens/s", "× plain", "× HF assisted"):
        table.add_column(name, justify="right")
    table.add_column("= plain", justify="center")
    for summary in _main_methods(result):
        table.add_row(
            summary["label"],
            _spread(summary["tokens_per_second"], 1),
            _spread(summary["ratio_vs_plain"], 2, "×"),
            _spread(summary["ratio_vs_hf_assisted"], 2, "×"),
            _yes_no(summary["identical_to_plain"]),
        )
    table.caption = "= plain: output token-identical to plain greedy generate on every prompt"
    table.caption_justify = "left"
    return table


def _work_table(result: dict[str, Any]) -> Table:
    table = Table(title="Work", title_justify="left")
    table.add_column("method")
    for name in (
        "V fwd /token",
        "V in /token",
        "V fwd /round",
        "D fwd /round",
        "acc/draft",
        "α",
        "τ /round",
        "vLLM len",
    ):
        table.add_column(name, justify="right")
    for summary in _main_methods(result):
        table.add_row(
            summary["label"],
            _num(summary["verifier_forwards_per_token"], 2),
            _num(summary["verifier_input_tokens_per_token"], 1),
            _num(summary["verifier_forwards_per_round"], 2),
            _num(summary["drafter_forwards_per_round"], 2),
            _num(summary["draft_acceptance_rate"], 2),
            _num(summary["alpha"], 2),
            _num(summary["tokens_per_round"], 2),
            _num(summary["mean_acceptance_length"], 2),
        )
    table.caption = (
        "V/D: verifier/drafter forwards, V in: verifier input tokens (prompt prefill included "
        "per token, excluded per round); acc/draft: accepted / drafted; α: accepted / judged "
        "(drafts after a round's first rejection are never judged); τ: tokens appended per "
        "round (the verifier's own token included); vLLM len: vLLM's mean acceptance length, "
        "1 + accepted / rounds"
    )
    table.caption_justify = "left"
    return table


def _drafting_table(result: dict[str, Any]) -> Table | Text:
    """The ways of drafting side by side: the drafter model's chain, a tree at the chain's
    verifier budget, n-gram lookup, early exit; one verifier pass per round each."""
    rows = result.get("drafting", [])
    if len(rows) < 2:
        return Text("")
    table = Table(
        title=f"Drafting methods (greedy-exact, k={result['settings']['k']}, same verifier, "
        "one verifier pass per round)",
        title_justify="left",
    )
    table.add_column("drafter")
    for name in ("nodes /round", "τ /round", "V fwd /round", "α", "acc/draft", "tokens/s"):
        table.add_column(name, justify="right")
    for name in ("× plain", "× chain"):
        table.add_column(name, justify="right")
    table.add_column("= plain", justify="center")
    drafter = result["settings"]["drafter"].rstrip("/").rsplit("/", 1)[-1]
    for row in rows:
        table.add_row(
            f"chain: {drafter} k={result['settings']['k']}"
            if row["method"] == "engine_greedy"
            else row["drafting"],
            _num(row["nodes_per_round"], 2),
            _num(row["tokens_per_round"], 2),
            _num(row["verifier_forwards_per_round"], 2),
            _num(row["alpha"], 2),
            _num(row["draft_acceptance_rate"], 2),
            _spread(row["tokens_per_second"], 1),
            _spread(row["ratio_vs_plain"], 2, "×"),
            _spread(row["ratio_vs_chain"], 2, "×"),
            _yes_no(row["identical_to_plain"]),
        )
    table.caption = (
        "nodes: draft tokens the verifier scored per pass (a chain's k, a tree's nodes); τ: "
        "tokens appended per round, so per verifier pass; × chain: tokens/s over the drafter "
        "model's chain (engine greedy), paired per repeat; n-gram lookup drafts nothing where "
        "the context has no match (τ counts those rounds)"
    )
    table.caption_justify = "left"
    return table


def _span_table(result: dict[str, Any]) -> Table | Text:
    """The greedy-exact chain at each draft span: predicted and measured speedup, the best k."""
    rows = result.get("spans") or []
    if len(rows) < 2:
        return Text("")
    table = Table(
        title=f"Draft span k (greedy-exact chain): best k = {result['best_k']} by measured speedup",
        title_justify="left",
    )
    for name in ("k", "α", "τ /round", "r_(k+1)", "S pred.", "S meas.", "= plain"):
        table.add_column(name, justify="center" if name == "= plain" else "right")
    for row in rows:
        table.add_row(
            f"{'▶ ' if row['k'] == result['best_k'] else ''}{row['k']}",
            _num(row["alpha"], 3),
            _num(row["tokens_per_round"], 2),
            _num(row["r"], 3),
            _num(row["predicted_speedup"], 2) + ("×" if row["predicted_speedup"] else ""),
            _spread(row["measured_speedup"], 2, "×"),
            _yes_no(row["identical_to_plain"]),
        )
    table.caption = (
        "S pred. = E[τ](α, k) / (k·c + r_(k+1)) with this k's α, the cost model's c, and r "
        "from the kernel table (the pair's own kernel); S meas.: tokens/s over plain generate, "
        "paired per repeat"
    )
    table.caption_justify = "left"
    return table


def _kernel_table(result: dict[str, Any]) -> Table | Text:
    """Verifier forward time for blocks of 1..8 rows, per kernel, precision and thread count."""
    kernels = result.get("kernels")
    if not kernels:
        return Text("")
    blocks = kernels["blocks"]
    rows_max = len(blocks[0]["milliseconds"])
    table = Table(
        title="Verifier block cost by kernel: ms for a forward over M new rows (r_M = M rows "
        "/ 1 row)",
        title_justify="left",
    )
    table.add_column("kernel · precision · threads")
    for rows in range(1, rows_max + 1):
        table.add_column(f"M={rows}", justify="right")
    table.add_column("max r_M, M≤6", justify="right")
    for block in blocks:
        exact = "" if block["exact"] else " (not exact)"
        table.add_row(
            f"{block['label']}{exact} · {block['threads']}t",
            *(
                f"{ms:.1f}" if rows == 1 else f"{ms:.1f} ({r:.2f})"
                for rows, (ms, r) in enumerate(
                    zip(block["milliseconds"], block["r"], strict=True), start=1
                )
            ),
            f"{max(block['r'][:6]):.2f}",
        )
    floors = " · ".join(
        f"{floor['floor_ms']:.1f} ms at {int(floor['threads'])}t "
        f"({floor['weight_bytes'] / 1e6:.0f} MB at {floor['read_gb_per_s']:.1f} GB/s)"
        for floor in kernels["floor"]
    )
    plain = _times(_median_of(kernels.get("plain_vs_default_kernel")))
    agreement = " · ".join(
        f"{KERNEL_SHORT.get(row['kernel'], row['kernel'])} {row['dtype']}: block ≠ step at "
        f"{row['block_differs_from_step']}/{row['positions']}, step ≠ the pair's at "
        f"{row['step_differs_from_pair']}"
        for row in kernels.get("block_vs_step", [])
    )
    table.caption = (
        f"The first row is the pair's own kernel. Read-bandwidth floor of one step (the "
        f"verifier's streamed weights once): {floors}. Plain generate on the pair's kernel "
        f"vs torch's default kernel, same run: {plain}. Argmax along the first prompt's greedy "
        f"text, blocks of k+1 rows against one-token steps: {agreement}."
    )
    table.caption_justify = "left"
    return table


def _kernel_plot(result: dict[str, Any]) -> Text:
    """r_M against M at the bench's thread count, one line per kernel (plotext's text)."""
    kernels = result.get("kernels")
    if not kernels:
        return Text("")
    import plotext as plt

    plt.clear_figure()
    plt.limitsize(False, False)
    plt.plotsize(72, 16)
    plt.theme("clear")
    threads = kernels["blocks"][0]["threads"]  # the bench's own count: one line per kernel
    for block in (block for block in kernels["blocks"] if block["threads"] == threads):
        rows = list(range(1, len(block["r"]) + 1))
        plt.plot(rows, block["r"], label=f"{block['label']} {block['threads']}t", marker="dot")
    plt.xlabel("M rows in the block")
    plt.ylabel("r_M")
    return Text(str(plt.uncolorize(str(plt.build()))) + "\n")


KERNEL_SHORT = {"panel": "panels", "onednn": "oneDNN", "default": "MKL", "int4": "int4"}


def _median_of(spread: dict[str, float] | None) -> float | None:
    return None if spread is None else spread["median"]


def _cost_table(result: dict[str, Any]) -> Table:
    cost = result["cost_model"]
    table = Table(
        title=f"Cost model (median of {cost['samples']} timings, taken between the repeats, at "
        f"{cost['context_tokens']} cached tokens): S = (1 − α^(k+1)) / ((1 − α)(k·c + r_k))",
        title_justify="left",
        show_header=False,
    )
    table.add_column("figure")
    table.add_column("value", justify="right")
    rows = [
        ("drafter step (1 token)", f"{cost['drafter_step_ms']:.2f} ms"),
        ("verifier step (1 token)", f"{cost['verifier_step_ms']:.2f} ms"),
        (f"verifier on k+1 = {cost['k'] + 1} tokens", f"{cost['verifier_block_ms']:.2f} ms"),
        ("c = drafter / verifier step", f"{cost['c']:.3f}"),
        ("r_k = verifier (k+1) / verifier (1)", f"{cost['r_k']:.3f}"),
        (
            "plain generate per token",
            f"{cost['plain_generate_step_ms']:.2f} ms "
            f"(= {cost['plain_generate_over_verifier_step']:.2f} verifier steps)",
        ),
        ("predicted S at α=1 (the ceiling)", f"{cost['predicted_speedup_at_alpha_1']:.2f}×"),
    ]
    if cost.get("tree_nodes"):
        rows += [
            (
                f"verifier on a tree of {cost['tree_nodes']} nodes (+1), tree mask",
                f"{cost['verifier_tree_block_ms']:.2f} ms",
            ),
            ("r_tree = verifier (tree) / verifier (1)", f"{cost['r_tree']:.3f}"),
        ]
    for figure, value in rows:
        table.add_row(figure, value)
    return table


def _oracle_table(result: dict[str, Any]) -> Table:
    table = Table(
        title="Oracle drafter: speedup over plain generate, measured vs the cost model",
        title_justify="left",
    )
    for name in ("α", "α meas.", "tokens /round", "round cost", "S pred.", "S meas.", "gap"):
        table.add_column(name, justify="left" if name == "α" else "right")
    for row in result["oracle"]:
        table.add_row(
            f"{row['alpha']:g}",
            _num(row["measured_alpha"], 3),
            f"{_num(row['tokens_per_round'], 2)} ({row['expected_tokens_per_round']:.2f})",
            f"{row['round_cost_measured']:.2f} ({row['round_cost_model']:.2f})",
            f"{row['predicted_speedup']:.2f}×",
            _spread(row["measured_speedup"], 2, "×"),
            _percent(row["gap"]),
        )
    identical = all(row["identical_to_plain"] for row in result["oracle"])
    table.caption = (
        "S pred.: the formula at the measured α. tokens/round: measured (formula). round cost: "
        "seconds per round in verifier steps, measured with prefill (model: k·c + r_k). "
        "measured/predicted = tokens/round ratio × round-cost ratio × plain generate's "
        "per-token time in verifier steps. Oracle outputs token-identical to plain: "
        f"{_yes_no(identical)}"
    )
    table.caption_justify = "left"
    return table


def _category_table(result: dict[str, Any]) -> Table | Text:
    """Acceptance per prompt category, for prompts read from a file that has categories."""
    per_category = result.get("per_category") or {}
    if not per_category:
        return Text("")
    table = Table(title="Acceptance per prompt category", title_justify="left")
    table.add_column("category")
    labels = {key: result["methods"][key]["label"] for key in next(iter(per_category.values()))}
    for label in labels.values():
        table.add_column(f"{label}: acc/draft · α · τ", justify="right")
    for name, methods in per_category.items():
        table.add_row(
            name,
            *(
                f"{_num(figures['draft_acceptance_rate'], 2)} · {_num(figures['alpha'], 2)} · "
                f"{_num(figures['tokens_per_round'], 2)}"
                for figures in methods.values()
            ),
        )
    return table


def _yes_no(value: bool) -> str:
    return "✓ yes" if value else "✗ no"


def _num(value: float | None, digits: int) -> str:
    return "—" if value is None else f"{value:.{digits}f}"


def _times(value: float | None, why: str | None = None) -> str:
    if value is None:
        return f"not run: {why}" if why else "not run"
    return f"{value:.2f}×"


def _percent(value: float | None) -> str:
    return "—" if value is None else f"{value:+.1%}"


def _spread(spread: dict[str, float] | None, digits: int, unit: str = "") -> str:
    if spread is None:
        return "—"
    return (
        f"{spread['median']:.{digits}f}{unit} "
        f"({spread['min']:.{digits}f}–{spread['max']:.{digits}f})"
    )
