"""The corpus of bad inputs, run in-process: each exits 2 (or its stated code), shows no traceback, and
names the field and the file. Generated cases come from tests/cli/bad_inputs.py, hand-written ones from
tests/cli/corpus/ (described by tests/cli/corpus/index.yaml)."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from seifer_iac.cli.main import cli
from tests.cli.bad_inputs import PROFILE, SPEC, Case, all_generated, base_spec, dump_yaml
from tests.planner.conftest import toy_profile_json

CORPUS = Path(__file__).parent / "corpus"


def hand_written() -> list[Case]:
    """Cases of tests/cli/corpus/index.yaml: each names its files (copied from the corpus folder; the
    toy spec and profile are added unless the case brings its own)."""
    cases = []
    for entry in yaml.safe_load((CORPUS / "index.yaml").read_text()):
        files: dict[str, str | bytes] = {SPEC: dump_yaml(base_spec()), PROFILE: toy_profile_json()}
        for target, source in entry.get("files", {}).items():
            files[target] = (CORPUS / source).read_bytes()
        cases.append(
            Case(
                name="corpus-" + entry["name"],
                files=files,
                args=tuple(entry["args"]),
                field=entry["field"],
                file=entry.get("file", SPEC),
                words=entry.get("words", ""),
                exit_code=entry.get("exit", 2),
            )
        )
    return cases


GENERATED = all_generated()
HAND_WRITTEN = hand_written()


def materialise(case: Case, folder: Path) -> list[str]:
    for name, content in case.files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return [arg.replace("{dir}", str(folder)) for arg in case.args]


def check(case: Case, tmp_path: Path) -> None:
    args = materialise(case, tmp_path)
    result = CliRunner().invoke(cli, args)
    output = result.output  # stdout and stderr
    assert result.exit_code == case.exit_code, f"{case.name}: exit {result.exit_code}\n{output[-2000:]}"
    assert not result.exception or isinstance(result.exception, SystemExit), (
        f"{case.name}: raised {result.exception!r}"
    )
    assert "Traceback" not in output
    assert case.field in output, f"{case.name}: {case.field!r} not named in\n{output[-2000:]}"
    if case.words:
        assert case.words in output, f"{case.name}: {case.words!r} not in\n{output[-2000:]}"
    if case.file:
        assert case.file in output, f"{case.name}: file {case.file!r} not named in\n{output[-2000:]}"
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert lines, f"{case.name}: nothing on stderr"
    assert len(lines) <= 60 and all(len(line) <= 1000 for line in lines), f"{case.name}: {len(lines)} lines"


@pytest.mark.parametrize("case", GENERATED, ids=[c.name for c in GENERATED])
def test_generated_bad_input(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


@pytest.mark.parametrize("case", HAND_WRITTEN, ids=[c.name for c in HAND_WRITTEN])
def test_hand_written_bad_input(case: Case, tmp_path: Path) -> None:
    check(case, tmp_path)


def test_corpus_is_large_and_distinct() -> None:
    names = [c.name for c in GENERATED + HAND_WRITTEN]
    assert len(names) == len(set(names))
    assert len(names) >= 300
