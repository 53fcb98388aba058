"""Mutation testing of the code that moves money (mutmut), module by module.

Run by `scripts/mutation.sh` (see there and docs/adr/0016-mutation-testing.md).

Each module listed in `mutation/modules.toml` is mutated in its own scratch copy of the
repository (`var/mutation/<module>/`: src, tests and a pyproject.toml that carries the
`[tool.mutmut]` section for that module), with only the tests the config lists for it:
mutmut maps each function to the tests that call it and runs only those, in a forked
process per mutant, stopping at the first failure.

The report lists, per module, killed / survived / equivalent and the score
killed / (all - equivalent), then every surviving mutant by file and line with the
original and the mutated line. Survivors are matched against two reviewed lists by
fingerprint (`<path>::<function>: <original line> => <mutated line>`, stable when code
moves): `mutation/equivalent.txt` (the mutant cannot change behaviour; excluded from
the score) and `mutation/survivors.txt` (known gaps, accepted for now; counted).

`--ci`: only what a change touched — the functions of money-critical files changed since
`--base` (default: $MUTATION_BASE, else HEAD~1) — plus the fixed sample in the config;
exits 1 when a survivor appears that neither list knows (a new surviving mutant).
"""

from __future__ import annotations

import argparse
import ast
import difflib
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass, field
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
CONFIG = ROOT / "mutation" / "modules.toml"
EQUIVALENT = ROOT / "mutation" / "equivalent.txt"
SURVIVORS = ROOT / "mutation" / "survivors.txt"
WORK = Path(os.environ.get("MUTATION_WORKDIR", ROOT / "var" / "mutation"))
SEP = "ǁ"  # mutmut's class separator in mangled names

KILLED = {"killed", "timeout", "segfault", "caught by type check"}


@dataclass
class Module:
    path: str
    tests: list[str]
    functions: list[str] = field(default_factory=list)  # empty: every function
    ci_tests: list[str] = field(default_factory=list)  # the --ci run's tests (default: tests)

    @property
    def slug(self) -> str:
        return self.path.removeprefix("src/").removesuffix(".py").replace("/", ".")

    @property
    def dotted(self) -> str:
        return self.slug


@dataclass
class Mutant:
    name: str
    module: Module
    status: str
    function: str = ""
    line: int = 0
    before: str = ""
    after: str = ""

    @property
    def fingerprint(self) -> str:
        return f"{self.module.path}::{self.function}: {self.before} => {self.after}"


def load_config() -> tuple[list[Module], list[str]]:
    data = tomllib.loads(CONFIG.read_text())
    modules = [
        Module(
            m["path"],
            list(m["tests"]),
            list(m.get("functions", [])),
            list(m.get("ci_tests", [])),
        )
        for m in data["module"]
    ]
    return modules, list(data.get("ci", {}).get("sample", []))


def load_list(path: Path) -> dict[str, str]:
    """Fingerprint -> reason, from `<fingerprint>  # <reason>` lines."""
    out: dict[str, str] = {}
    if not path.exists():
        return out
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        # the reason follows the last "  # ": a mutated line may carry its own comment
        fingerprint, _, reason = line.rpartition("  # ")
        if not reason.strip():
            raise SystemExit(f"{path.name}: every entry needs a reason after '  # ': {line!r}")
        out[fingerprint.strip()] = reason.strip()
    return out


# --------------------------------------------------------------------------- names


def function_of(mutant_name: str) -> str:
    """`pkg.mod.x_func__mutmut_3` -> `func`; `pkg.mod.xǁCǁm__mutmut_1` -> `C.m`."""
    mangled = mutant_name.rsplit("__mutmut_", 1)[0].rsplit(".", 1)[-1]
    if mangled.startswith("x" + SEP):
        return ".".join(mangled[2:].split(SEP))
    return mangled.removeprefix("x_")


def mangled_glob(module: Module, function: str) -> str:
    """A mutmut name glob for `function` (`name` or `Class.method`, fnmatch patterns)."""
    if "." in function:
        cls, meth = function.split(".", 1)
        return f"{module.dotted}.x{SEP}{cls}{SEP}{meth}__mutmut_*"
    return f"{module.dotted}.x_{function}__mutmut_*"


def function_spans(path: Path) -> dict[str, tuple[int, int]]:
    """`name` / `Class.method` -> (first line incl. decorators, last line)."""
    tree = ast.parse(path.read_text())
    out: dict[str, tuple[int, int]] = {}

    def add(node: ast.AST, name: str) -> None:
        first = min([node.lineno, *(d.lineno for d in node.decorator_list)])
        out[name] = (first, node.end_lineno or node.lineno)

    for node in tree.body:
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            add(node, node.name)
        elif isinstance(node, ast.ClassDef):
            for sub in node.body:
                if isinstance(sub, ast.FunctionDef | ast.AsyncFunctionDef):
                    add(sub, f"{node.name}.{sub.name}")
    return out


# --------------------------------------------------------------------------- running


def workspace(module: Module, tests: list[str], recheck: bool = False) -> Path:
    """A fresh scratch copy of the repository whose pyproject mutates just `module`.

    `recheck`: keep the last full run's copy (and mutmut's results in it), refresh its
    src and tests; refused when the module's source or its test list changed since, because
    then earlier verdicts no longer hold.
    """
    ws = WORK / module.slug
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", ".hypothesis", "*.egg-info")
    pyproject = _pyproject(module, tests)
    if recheck:
        meta = ws / "mutants" / (module.path + ".meta")
        if not meta.exists():
            raise SystemExit(f"--recheck: no earlier run of {module.path} in {ws}")
        if (ws / module.path).read_bytes() != (ROOT / module.path).read_bytes():
            raise SystemExit(f"--recheck: {module.path} changed since the last run; run it in full")
        if _mutmut_section((ws / "pyproject.toml").read_text()) != _mutmut_section(pyproject):
            raise SystemExit(f"--recheck: the tests of {module.path} changed; run it in full")
        for tree in ("src", "tests"):  # the module itself is unchanged (checked above)
            shutil.rmtree(ws / tree)
            shutil.copytree(ROOT / tree, ws / tree, ignore=ignore)
        (ws / "pyproject.toml").write_text(pyproject)
        return ws
    if ws.exists():
        shutil.rmtree(ws)
    ws.mkdir(parents=True)
    shutil.copytree(ROOT / "src", ws / "src", ignore=ignore)
    shutil.copytree(ROOT / "tests", ws / "tests", ignore=ignore)
    (ws / "pyproject.toml").write_text(pyproject)
    return ws


def _mutmut_section(pyproject: str) -> str:
    return pyproject[pyproject.index("[tool.mutmut]") :]


def _pyproject(module: Module, tests: list[str]) -> str:
    pyproject = (ROOT / "pyproject.toml").read_text()
    pyproject = re.sub(r"(?ms)^\[tool\.mutmut\].*?(?=^\[|\Z)", "", pyproject)
    pyproject += (
        "\n[tool.mutmut]\n"
        'source_paths = ["src/"]\n'
        f"only_mutate = [{json.dumps(module.path)}]\n"
        f"pytest_add_cli_args_test_selection = {json.dumps(tests)}\n"
        'pytest_add_cli_args = ["-p", "no:cacheprovider"]\n'
        'also_copy = ["tests/", "pyproject.toml"]\n'
    )
    return pyproject


def not_killed(module: Module, ws: Path) -> list[str]:
    """Names of the mutants of the last run that no test killed (survived, no tests)."""
    data = json.loads((ws / "mutants" / (module.path + ".meta")).read_text())
    from mutmut.stats import status_by_exit_code

    return sorted(
        name
        for name, code in data["exit_code_by_key"].items()
        if code is None or status_by_exit_code[code] not in KILLED
    )


def run_mutmut(
    module: Module, names: list[str], jobs: int, log: Path, tests: list[str], recheck: bool = False
) -> Path:
    ws = workspace(module, tests, recheck)
    if recheck:
        # only the module's configured functions: the rest were never meant to run
        names = [n for n in not_killed(module, ws) if wanted(module, function_of(n))]
        if not names:
            return ws
    mutmut = Path(sys.executable).with_name("mutmut")
    cmd = [str(mutmut), "run", "--max-children", str(jobs), *names]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    with log.open("w") as out:
        proc = subprocess.run(cmd, cwd=ws, stdout=out, stderr=subprocess.STDOUT, env=env)
    if proc.returncode not in (0,):
        tail = log.read_text()[-3000:]
        raise SystemExit(f"mutmut failed on {module.path} (exit {proc.returncode}):\n{tail}")
    return ws


def last_run_problem(module: Module, ws: Path) -> str:
    """Why the kept run of `module` cannot be reported ("" when it can)."""
    if not (ws / "mutants" / (module.path + ".meta")).exists():
        return "no run kept in the work directory"
    if (ws / module.path).read_bytes() != (ROOT / module.path).read_bytes():
        return "changed since its last run: run it again"
    return ""


def not_run(module: Module, ws: Path) -> int:
    """Mutants of the kept run that have no verdict yet (an interrupted run)."""
    data = json.loads((ws / "mutants" / (module.path + ".meta")).read_text())
    return sum(
        1
        for name, code in data["exit_code_by_key"].items()
        if code is None and wanted(module, function_of(name))
    )


def results(module: Module, ws: Path) -> list[Mutant]:
    from mutmut.stats import status_by_exit_code

    meta = ws / "mutants" / (module.path + ".meta")
    data = json.loads(meta.read_text())
    return [
        Mutant(name, module, status_by_exit_code[code], function_of(name))
        for name, code in sorted(data["exit_code_by_key"].items())
        if code is not None
    ]


def mutant_sources(module: Module, ws: Path) -> dict[str, list[str]]:
    """Source lines of every function in mutmut's mutated copy (`x_f__mutmut_3`, ...)."""
    text = (ws / "mutants" / module.path).read_text()
    lines = text.splitlines()
    out: dict[str, list[str]] = {}
    for node in ast.walk(ast.parse(text)):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef) and "__mutmut_" in node.name:
            out[node.name] = lines[node.lineno - 1 : node.end_lineno]
    return out


def locate_fast(
    mutant: Mutant, sources: dict[str, list[str]], spans: dict[str, tuple[int, int]]
) -> bool:
    """`locate` from the mutated copy's text: the same lines `mutmut show` prints, without a
    process per mutant (minutes on a busy machine when many are listed)."""
    short = mutant.name.rsplit(".", 1)[-1]
    orig_name = re.sub(r"__mutmut_\d+$", "__mutmut_orig", short)
    mutated, orig = sources.get(short), sources.get(orig_name)
    if mutated is None or orig is None:
        return False
    plain = mutant.function.rsplit(".", 1)[-1]
    mutated = [line.replace(short, plain, 1) for line in mutated]
    orig = [line.replace(orig_name, plain, 1) for line in orig]
    before: list[str] = []
    after: list[str] = []
    first_changed = None
    for tag, i1, i2, j1, j2 in difflib.SequenceMatcher(
        None, orig, mutated, autojunk=False
    ).get_opcodes():
        if tag == "equal":
            continue
        if first_changed is None:
            first_changed = i1
        before += [line.strip() for line in orig[i1:i2]]
        after += [line.strip() for line in mutated[j1:j2]]
    first = spans.get(mutant.function, (1, 1))[0]
    mutant.line = first + (first_changed or 0)
    mutant.before = " / ".join(before)
    mutant.after = " / ".join(after)
    return True


def locate(mutant: Mutant, ws: Path, spans: dict[str, tuple[int, int]]) -> None:
    """Fill in the file line and the original/mutated text of a mutant (mutmut show)."""
    mutmut = Path(sys.executable).with_name("mutmut")
    shown = subprocess.run(
        [str(mutmut), "show", mutant.name], cwd=ws, capture_output=True, text=True
    ).stdout
    old_line = None
    before: list[str] = []
    after: list[str] = []
    for line in shown.splitlines():
        hunk = re.match(r"@@ -(\d+)", line)
        if hunk:
            old_line = int(hunk.group(1))
            continue
        if old_line is None or line.startswith(("---", "+++")):
            continue
        if line.startswith("-"):
            before.append(line[1:].strip())
            if mutant.line == 0:
                mutant.line = old_line
            old_line += 1
        elif line.startswith("+"):
            after.append(line[1:].strip())
            if mutant.line == 0:
                mutant.line = old_line
        else:
            old_line += 1
    first = spans.get(mutant.function, (1, 1))[0]
    mutant.line = first + max(mutant.line, 1) - 1
    mutant.before = " / ".join(before)
    mutant.after = " / ".join(after)


# --------------------------------------------------------------------------- selection


def changed_functions(modules: list[Module], base: str) -> dict[str, set[str]]:
    """Per module path: functions whose lines changed since `base` (git diff)."""
    out: dict[str, set[str]] = {}
    try:
        diff = subprocess.run(
            ["git", "diff", "--unified=0", base, "--", *(m.path for m in modules)],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
    except subprocess.CalledProcessError:
        print(f"mutation: cannot diff against {base!r}; checking the fixed sample only")
        return out
    current = None
    lines: dict[str, set[int]] = {}
    for line in diff.splitlines():
        if line.startswith("+++ "):
            current = line[6:] if line.startswith("+++ b/") else None
            continue
        hunk = re.match(r"@@ -\d+(?:,\d+)? \+(\d+)(?:,(\d+))? @@", line)
        if hunk and current:
            start, count = int(hunk.group(1)), int(hunk.group(2) or 1)
            lines.setdefault(current, set()).update(range(start, start + max(count, 1)))
    for path, changed in lines.items():
        if not (ROOT / path).exists():
            continue
        for name, (first, last) in function_spans(ROOT / path).items():
            if any(first <= n <= last for n in changed):
                out.setdefault(path, set()).add(name)
    return out


def wanted(module: Module, function: str) -> bool:
    return not module.functions or any(fnmatch(function, f) for f in module.functions)


# --------------------------------------------------------------------------- main


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("modules", nargs="*", help="module paths or globs (default: all)")
    parser.add_argument("--ci", action="store_true", help="changed functions + fixed sample")
    parser.add_argument("--base", default=os.environ.get("MUTATION_BASE", "HEAD~1"))
    parser.add_argument(
        "--recheck",
        action="store_true",
        help="re-run only the mutants the last full run left alive (source unchanged)",
    )
    parser.add_argument(
        "--report",
        action="store_true",
        help="run nothing: the report of the last runs kept in the work directory",
    )
    parser.add_argument("--jobs", type=int, default=int(os.environ.get("MUTATION_JOBS", "2")))
    args = parser.parse_args(argv)

    modules, sample = load_config()
    equivalent, survivors_ok = load_list(EQUIVALENT), load_list(SURVIVORS)
    if args.modules:
        modules = [m for m in modules if any(fnmatch(m.path, p) for p in args.modules)]
        if not modules:
            raise SystemExit(f"no configured module matches {args.modules}")

    plan: list[tuple[Module, list[str]]] = []  # (module, mutmut names; [] = all)
    if args.ci:
        changed = changed_functions(modules, args.base)
        for m in modules:
            funcs = {f for f in changed.get(m.path, set()) if wanted(m, f)}
            funcs |= {s.split("::", 1)[1] for s in sample if s.split("::", 1)[0] == m.path}
            present = set(function_spans(ROOT / m.path)) if (ROOT / m.path).exists() else set()
            for gone in sorted(funcs - present):
                print(f"mutation: {m.path}::{gone} is not in the file (moved?); skipped")
            funcs &= present
            if funcs:
                plan.append((m, sorted(mangled_glob(m, f) for f in funcs)))
    else:
        for m in modules:
            plan.append((m, [mangled_glob(m, f) for f in m.functions]))

    WORK.mkdir(parents=True, exist_ok=True)
    report: list[str] = []
    all_survivors: list[Mutant] = []
    totals = [0, 0, 0]  # killed, counted, equivalent
    started = time.monotonic()
    for module, names in plan:
        t0 = time.monotonic()
        print(
            f"mutation: {module.path} ({'all functions' if not names else len(names)})", flush=True
        )
        tests = (module.ci_tests or module.tests) if args.ci else module.tests
        log = WORK / f"{module.slug}{'.recheck' if args.recheck else ''}.log"
        if args.report:
            ws = WORK / module.slug
            stale = last_run_problem(module, ws)
            if stale:
                report.append(f"{module.path}: {stale}")
                continue
        else:
            ws = run_mutmut(module, names, args.jobs, log, tests, args.recheck and not args.ci)
        spans = function_spans(ROOT / module.path)
        mutants = [x for x in results(module, ws) if wanted(module, x.function)]
        if names:
            mutants = [x for x in mutants if any(fnmatch(x.name, n) for n in names)]
        sources = mutant_sources(module, ws)
        for x in mutants:
            if x.status not in KILLED and not locate_fast(x, sources, spans):
                locate(x, ws, spans)
        killed = sum(1 for x in mutants if x.status in KILLED)
        eq = [x for x in mutants if x.status not in KILLED and x.fingerprint in equivalent]
        surv = [x for x in mutants if x.status not in KILLED and x.fingerprint not in equivalent]
        counted = len(mutants) - len(eq)
        score = 100.0 * killed / counted if counted else 100.0
        totals[0] += killed
        totals[1] += counted
        totals[2] += len(eq)
        pending = not_run(module, ws)
        report.append(
            f"{module.path}: {killed} killed / {counted} (+{len(eq)} equivalent) = "
            f"{score:.1f}%  [{time.monotonic() - t0:.0f}s]"
            + (f"  ({pending} mutants not run yet)" if pending else "")
        )
        all_survivors.extend(surv)
    score = 100.0 * totals[0] / totals[1] if totals[1] else 100.0
    lines = ["", "Mutation score by module (killed / non-equivalent):", *report]
    lines.append(
        f"TOTAL: {totals[0]} killed / {totals[1]} non-equivalent (+{totals[2]} equivalent) = "
        f"{score:.1f}%  in {time.monotonic() - started:.0f}s"
    )
    lines.append("")
    lines.append(f"Surviving mutants ({len(all_survivors)}):")
    new: list[Mutant] = []
    for x in sorted(all_survivors, key=lambda m: (m.module.path, m.line)):
        known = x.fingerprint in survivors_ok
        if not known:
            new.append(x)
        tag = "known" if known else "NEW"
        lines.append(f"  {x.module.path}:{x.line} [{x.status}, {tag}] {x.function}")
        lines.append(f"      - {x.before}")
        lines.append(f"      + {x.after}")
        lines.append(f"      fingerprint: {x.fingerprint}")
    text = "\n".join(lines)
    print(text)
    (WORK / "report.txt").write_text(text + "\n")
    if new:
        print(
            f"\nmutation: {len(new)} surviving mutant(s) not in mutation/equivalent.txt or "
            "mutation/survivors.txt: add a test that kills each (or, after review, list it)."
        )
        return 1 if args.ci else 0
    return 0


if __name__ == "__main__":
    sys.exit(main())
