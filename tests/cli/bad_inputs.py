"""A corpus of bad inputs for the command line, generated from one good spec, profile and plan lock.

Each `Case` is a set of files plus a command; running it must exit with `exit_code`, show no traceback,
and name `field` (and, where the file is known, the file) in its output. The spec and profile mutations
cover every field of the schema with the kinds of wrong value a careless user or an attacker writes: wrong
types, NaN and infinities, numbers beyond 64 bits, negative and zero values, out-of-range values, unknown
keys, contradictions between fields. Hand-written cases live in `tests/cli/corpus/` (see test_corpus.py).
"""

from __future__ import annotations

import copy
import dataclasses
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import yaml

from tests.planner.conftest import spec_document, toy_profile_json

NAN, INF = float("nan"), float("inf")
HUGE = 10**30  # beyond 64 bits
SPEC = "dev.pipeline.yaml"
PROFILE = "toy.profile.json"
LOCK = "dev.pipeline.lock.json"


@dataclass(frozen=True)
class Case:
    """Files to write (name -> text or bytes), the seifer arguments ({dir} is the folder they are in),
    and what the output must say."""

    name: str
    files: dict[str, str | bytes]
    args: tuple[str, ...]
    field: str  # a substring naming the field (or, for document-level problems, the place)
    file: str | None = SPEC  # the file the message must name (None: no single file)
    words: str = ""  # a further substring the message must hold
    exit_code: int = 2
    tags: tuple[str, ...] = field(default=())


def base_spec() -> dict[str, Any]:
    """The planner tests' toy spec (a profile JSON as the model: no TensorFlow) with one explicit link."""
    return spec_document({("gateway", "pi-1"): 40.0})


def base_profile() -> dict[str, Any]:
    return json.loads(toy_profile_json())


def dump_yaml(data: Any) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _setter(path: tuple[Any, ...], value: Any) -> Callable[[Any], None]:
    def mutate(data: Any) -> None:
        target = data
        for part in path[:-1]:
            target = target[part]
        target[path[-1]] = copy.deepcopy(value)

    return mutate


def _deleter(path: tuple[Any, ...]) -> Callable[[Any], None]:
    def mutate(data: Any) -> None:
        target = data
        for part in path[:-1]:
            target = target[part]
        del target[path[-1]]

    return mutate


# (path in the spec document, bad values, the field the message must name (default: the path))
WRONG_TYPES = ("text", [], {}, True, None)
SPEC_FIELDS: list[tuple[tuple[Any, ...], tuple[Any, ...], str | None]] = [
    (("apiVersion",), ("v2", 1, None, "seifer.dev/v1"), None),
    (("kind",), ("Deployment", [], 3), None),
    (("metadata", "name"), ("Bad_Name", "", 5, "a" * 60, "-x", "x-", None, [], "über"), None),
    (("metadata", "namespace"), ("UPPER", 7, "a" * 70, "", "a.b"), None),
    (("metadata", "createNamespace"), ("yes", 1, None, NAN), None),
    (("metadata", "labels"), ({"a": "b"},), "metadata"),
    (("model", "version"), ("", "bad version!", 1.5, "a" * 70, None, NAN, HUGE), None),
    (("model", "profile"), ("missing.json", "x.txt", 3, [], "../nowhere/p.json"), None),
    (
        ("model", "inputShape"),
        ([0], [-1], "224", [1, 2, 3, 4, 5], [INF], [99999999], [65536, 65536, 3], [1.5], [], [NAN], [HUGE]),
        None,
    ),
    (("model", "seed"), (-1, 2**40, "x", NAN, 1.5, HUGE), None),
    (("model", "application"), ("ResNet50",), "model"),
    (("model", "file"), ("m.keras",), "model"),
    (("model", "weights"), ("imagenet",), "model"),
    (("cluster", "nodes"), ([], "x", None, {}), None),
    (("cluster", "nodes", 1, "name"), ("Bad Name", "", 3, "gateway", "a" * 300, None), None),
    (
        ("cluster", "nodes", 1, "memory"),
        (
            "512Mb",
            "-1Gi",
            0,
            "1e999Mi",
            HUGE,
            NAN,
            INF,
            "99999999999999999999Ti",
            [],
            True,
            "9Pi",
            "lots",
            "0",
        ),
        None,
    ),
    (("cluster", "nodes", 1, "reserved"), ("2Ti", "-5", "abc", NAN, HUGE, "1Ti"), None),
    (("cluster", "nodes", 1, "speed"), (-1, 0, NAN, INF, -INF, "fast", "1e30GFLOPS", 1e-30, [], HUGE), None),
    (("cluster", "nodes", 1, "cpus"), (0, -1, 1000, NAN, INF, "two", HUGE), None),
    (("cluster", "nodes", 1, "schedulable"), ("no", 0, None), None),
    (("cluster", "nodes", 1, "arch"), ("x86", 5, ""), None),
    (("cluster", "nodes", 1, "labels"), ({"a b": "c"}, {"k": 5}, "x", {"k": "a b"}), None),
    (("cluster", "nodes", 1, "memroy"), ("1Gi",), "cluster.nodes[1]"),
    (("cluster", "nodes", 0, "schedulable"), (1,), None),
    (("cluster", "bandwidth"), ("fast", [], None), None),
    (
        ("cluster", "bandwidth", "default"),
        ("fast", -5, 0, NAN, INF, "1e30Gbps", "0.0000001bps", [], "20Mb", HUGE, "-20Mbps"),
        None,
    ),
    (("cluster", "bandwidth", "links"), ("x", [1], [{"from": "gateway"}], {}), None),
    (("cluster", "bandwidth", "links", 0, "from"), ("nowhere", 5, "pi-9"), None),
    (("cluster", "bandwidth", "links", 0, "to"), ("gateway", "nowhere", None), "cluster.bandwidth.links[0]"),
    (("cluster", "bandwidth", "links", 0, "bandwidth"), ("fast", 0, NAN, -1, INF, HUGE, "1e99Gbps"), None),
    (("cluster", "bandwidth", "links", 0, "latency"), ("2ms",), "cluster.bandwidth.links[0]"),
    (("dispatcher", "node"), ("nowhere", 5, None, "pi-9", ""), None),
    (("dispatcher", "port"), (0, 70000, 5600, "80", NAN, 8650, -1, HUGE, 1.5), None),
    (("dispatcher", "allowFrom"), (["x"], ["999.1.1.1/99"], "10.0.0.0/8", [5], ["10.0.0.0/8/8"]), None),
    (("dispatcher", "deadline"), ("-1s", "forever", 0, NAN, "1e9s", INF, "10h", HUGE, "1e400s"), None),
    (("dispatcher", "maxInFlight"), (0, 5000, "x", NAN, -3, HUGE), None),
    (("runtime", "image"), ("", 5, None, [], "evil image", "a\nb", "x" * 600), None),
    (("runtime", "imagePullPolicy"), ("Sometimes", 1), None),
    (("runtime", "codec"), ("gzip", 5, None, [], {}), None),
    (("runtime", "queueDepth"), (0, 65, "x", NAN, HUGE, -1), None),
    (("runtime", "backend"), ("onnx", 1), None),
    (("runtime", "precision"), ("int4", 8), None),
    (("runtime", "memoryOverhead"), ("-1Mi", "lots", HUGE, NAN, INF, "1e999", "10Pi"), None),
    (("planner", "objective"), ("fastest", 1, None), None),
    (("planner", "timeBudget"), ("0s", "1e9s", NAN, "soon", -2, INF, HUGE), None),
    (("planner", "stabilityMargin"), (-0.1, 2, NAN, INF, "x", HUGE, -INF), None),
    (("planner", "maxStages"), (0, "x", HUGE, NAN, -1, 1.5), None),
    (("planner", "referenceSpeed"), ("10", "fast", 0, -5, NAN, "1e40GFLOPS", INF, "0GFLOPS", HUGE), None),
    (("planner", "seed"), (-1, 2**40, NAN, HUGE), None),
    (("planner", "effort"), ("max",), "planner"),
    (("weights",), ("big", [], 5), None),
    (("weights", "delivery"), ("s3", 1), None),
    (("weights", "chunkSize"), ("1Ki", "10Mi", "x", NAN, HUGE, "-4Ki"), None),
    (("weights", "maxTotal"), ("-1", "x", HUGE, NAN, 0, "0Mi"), None),
    (("extra",), ("field",), "(top level)"),
]

CODECS: list[tuple[Any, str, str]] = [  # (codec value, field named, words)
    ({"name": "zfp", "rate": 0.01}, "runtime.codec.rate", "minimum"),
    ({"name": "zfp", "rate": 0.0332}, "runtime.codec.rate", "minimum"),
    ({"name": "zfp", "rate": 0.5}, "runtime.codec.rate", "too low"),  # fine for 4-D, not the profile's 2-D
    ({"name": "zfp", "rate": 2.0}, "runtime.codec.rate", "too low"),
    ({"name": "zfp", "rate": NAN}, "runtime.codec.rate", "finite"),
    ({"name": "zfp", "rate": INF}, "runtime.codec.rate", "finite"),
    ({"name": "zfp", "rate": -1}, "runtime.codec.rate", ""),
    ({"name": "zfp", "rate": 0}, "runtime.codec.rate", ""),
    ({"name": "zfp", "rate": 100}, "runtime.codec.rate", ""),
    ({"name": "zfp", "rate": "16"}, "runtime.codec.rate", ""),
    ({"name": "zfp", "rate": HUGE}, "runtime.codec.rate", "64 bits"),
    ({"name": "lz4", "ratio": INF}, "runtime.codec.ratio", "finite"),
    ({"name": "lz4", "ratio": 0.5}, "runtime.codec.ratio", ""),
    ({"name": "lz4", "ratio": NAN}, "runtime.codec.ratio", "finite"),
    ({"name": "lz4", "ratio": HUGE}, "runtime.codec.ratio", "64 bits"),
    ({"name": "lz4", "ratio": -2}, "runtime.codec.ratio", ""),
    ({"name": "zfp", "mode": "tolerance"}, "runtime.codec", "needs 'tolerance'"),
    ({"name": "zfp", "mode": "tolerance", "tolerance": NAN}, "runtime.codec.tolerance", "finite"),
    ({"name": "zfp", "mode": "tolerance", "tolerance": INF}, "runtime.codec.tolerance", "finite"),
    ({"name": "zfp", "mode": "tolerance", "tolerance": 0}, "runtime.codec.tolerance", ""),
    ({"name": "zfp", "mode": "tolerance", "tolerance": -1e-3}, "runtime.codec.tolerance", ""),
    ({"name": "zfp", "mode": "precision"}, "runtime.codec", "needs 'precision'"),
    ({"name": "zfp", "mode": "precision", "precision": 0}, "runtime.codec.precision", ""),
    ({"name": "zfp", "mode": "precision", "precision": 1.5}, "runtime.codec.precision", ""),
    ({"name": "zfp", "mode": "precision", "precision": 65}, "runtime.codec.precision", ""),
    ({"name": "zfp", "mode": "precision", "precision": NAN}, "runtime.codec.precision", ""),
    ({"name": "zfp", "mode": "precision", "precision": 16, "rate": 4}, "runtime.codec", "do not apply"),
    ({"name": "none", "rate": 3}, "runtime.codec", "only apply to zfp"),
    ({"name": "lz4", "mode": "rate"}, "runtime.codec", "only apply to zfp"),
    ({"name": "zfp", "mode": "rate", "rate": 16, "ratio": 2}, "runtime.codec.ratio", "exact ratio"),
    ({"name": "zfp", "mode": "fast"}, "runtime.codec.mode", ""),
    ({"name": "gzip"}, "runtime.codec.name", ""),
    ({"name": "zfp", "level": 3}, "runtime.codec", "level"),
    ({"rate": 16}, "runtime.codec", "name"),
]

SEMANTIC: list[tuple[str, Callable[[Any], None], str, str]] = [  # (name, mutation, field, words)
    (
        "tensorflow-fp16",
        lambda d: d["runtime"].update(backend="tensorflow", precision="fp16"),
        "runtime.precision",
        "litert",
    ),
    (
        "duplicate-link",
        lambda d: d["cluster"]["bandwidth"].update(
            links=[{"from": "gateway", "to": "pi-1", "bandwidth": "1Mbps"}] * 2
        ),
        "cluster.bandwidth.links[1]",
        "already given",
    ),
    (
        "self-link",
        lambda d: d["cluster"]["bandwidth"].update(
            links=[{"from": "pi-1", "to": "pi-1", "bandwidth": "1Mbps"}]
        ),
        "cluster.bandwidth.links[0]",
        "itself",
    ),
    (
        "unreachable-node",
        lambda d: d["cluster"].update(
            bandwidth={"links": [{"from": "gateway", "to": "pi-1", "bandwidth": "1Mbps"}]}
        ),
        "cluster.nodes[2]",
        "cannot be reached",
    ),
    (
        "no-schedulable-node",
        lambda d: [n.update(schedulable=False) for n in d["cluster"]["nodes"]],
        "cluster.nodes",
        "schedulable",
    ),
    (
        "duplicate-node",
        lambda d: d["cluster"]["nodes"].append(dict(d["cluster"]["nodes"][1])),
        "cluster.nodes[6].name",
        "already used",
    ),
    (
        "reserved-above-memory",
        lambda d: d["cluster"]["nodes"][1].update(memory="64Mi", reserved="1Gi"),
        "cluster.nodes[1].reserved",
        "less than",
    ),
    (
        "dispatcher-unknown-close",
        lambda d: d["dispatcher"].update(node="gatewey"),
        "dispatcher.node",
        "did you mean 'gateway'",
    ),
    (
        "link-unknown-close",
        lambda d: d["cluster"]["bandwidth"].update(
            links=[{"from": "pi-l", "to": "pi-2", "bandwidth": "1Mbps"}]
        ),
        "cluster.bandwidth.links[0].from",
        "did you mean 'pi-",
    ),
    (
        "name-too-long",
        lambda d: d["metadata"].update(name="a" * 51),
        "metadata.name",
        "at most 50",
    ),
    (
        "two-model-sources",
        lambda d: d["model"].update(application="ResNet50"),
        "model",
        "only one",
    ),
    (
        "no-model-source",
        lambda d: d["model"].pop("profile"),
        "model",
        "exactly one",
    ),
    (
        "missing-runtime",
        lambda d: d.pop("runtime"),
        "(top level)",
        "runtime",
    ),
    (
        "missing-node-memory",
        lambda d: d["cluster"]["nodes"][2].pop("memory"),
        "cluster.nodes[2]",
        "memory",
    ),
    (
        "input-shape-disagrees",
        lambda d: d["model"].update(inputShape=[224, 224, 3]),
        "model.inputShape",
        "disagrees",
    ),
    (
        "input-shape-rank",
        lambda d: d["model"].update(inputShape=[1000, 150]),
        "model.inputShape",
        "disagrees",
    ),
]


def _spec_case(name: str, data: dict[str, Any], command: str, field: str, words: str = "") -> Case:
    profile = toy_profile_json()
    args = (command, "{dir}/" + SPEC)
    return Case(
        name=f"{command}-{name}",
        files={SPEC: dump_yaml(data), PROFILE: profile},
        args=args,
        field=field,
        words=words,
    )


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, float) else repr(value)
    return text[:24]


def spec_cases() -> Iterator[Case]:
    """Every field with every bad value, through `validate` and `plan`."""
    for path, values, named in SPEC_FIELDS:
        where = named or _path_text(path)
        for value in values:
            data = base_spec()
            try:
                _setter(path, value)(data)
            except (KeyError, IndexError, TypeError):
                continue
            label = f"{_path_text(path)}={_short(value)}"
            for command in ("validate", "plan"):
                yield _spec_case(label, data, command, where)
    data = base_spec()
    data["cluster"]["nodes"] += [{"name": f"n-{i}", "memory": "1Gi"} for i in range(10_001)]
    yield _spec_case("10007-nodes", data, "validate", "cluster.nodes", "at most 10000")
    for path in (("metadata", "name"), ("cluster", "nodes", 1, "name"), ("dispatcher", "node"), ("model",)):
        data = base_spec()
        _deleter(path)(data)
        yield _spec_case(
            f"missing-{_path_text(path)}", data, "validate", _path_text(path[:-1]) or "(top level)"
        )
    for value in WRONG_TYPES:
        for path in (("metadata",), ("model",), ("cluster",), ("dispatcher",), ("runtime",), ("planner",)):
            if path == ("planner",) and value == {}:
                continue  # an empty planner section is valid
            data = base_spec()
            _setter(path, value)(data)
            yield _spec_case(f"{_path_text(path)}={_short(value)}", data, "validate", _path_text(path))
    for codec, where, words in CODECS:
        data = base_spec()
        data["runtime"]["codec"] = codec
        for command in ("validate", "plan"):
            yield _spec_case(f"codec={_short(codec)}", data, command, where, words)
    for name, mutate, where, words in SEMANTIC:
        data = base_spec()
        mutate(data)
        for command in ("validate", "plan"):
            yield _spec_case(name, data, command, where, words)


def _path_text(path: tuple[Any, ...]) -> str:
    from seifer_iac.spec.errors import field_path

    return field_path(path) if path else "(top level)"


# ------------------------------------------------------------------------------------------- profiles

PROFILE_FIELDS: list[tuple[tuple[Any, ...], tuple[Any, ...], str | None, str]] = [
    (("format",), ("seifer.profile/v2", 1, None), None, ""),
    (("model_name",), ("", 5, None), None, ""),
    (("model_hash",), ("abc", "G" * 64, 7), None, ""),
    (("input_name",), ("", []), None, ""),
    (("input_shape",), ([], [0, 5], "1x2", [1, -3], [1, 2.5], [HUGE], [3, 50000], [1] * 9), None, ""),
    (("input_dtype",), ("float33", "", 4, "object"), None, ""),
    (("input_bytes",), (0, -1, 7, "600000", HUGE, NAN, INF, 2**60), None, ""),
    (("blocks",), ([], {}, "x", [1]), None, ""),
    (("blocks", 1, "name"), ("", 3, "toy_b0"), None, ""),
    (("blocks", 1, "layers"), ([], "x", [1], ["toy_l0a"]), None, ""),
    (("blocks", 1, "param_bytes"), (-1, "1", NAN, HUGE, 1.5, 2**60), None, ""),
    (("blocks", 1, "output_bytes"), (0, 7, 400_001, NAN, INF, HUGE, -5), None, ""),
    (("blocks", 1, "output_shape"), ([], [1, 3], [0], "1x3", [1, HUGE]), None, ""),
    (("blocks", 1, "output_dtype"), ("float33", "", 9), None, ""),
    (("blocks", 1, "peak_activation_bytes"), (-1, NAN, HUGE, "x"), None, ""),
    (("blocks", 1, "flops"), (-1, NAN, INF, HUGE, 1.5, 2**60), None, ""),
    (("blocks", 1, "measured_s"), (-1.0, NAN, INF, "fast", HUGE, 1e9), None, ""),
    (("blocks", 1, "extra"), (1,), "blocks[1]", "extra"),
    (("extra",), (1,), "(top level)", "extra"),
]


def _json_text(data: Any) -> str:
    """JSON as a careless tool writes it: NaN and Infinity tokens included (Python's default)."""
    return json.dumps(data)


def profile_cases() -> Iterator[Case]:
    for path, values, named, words in PROFILE_FIELDS:
        where = named or _path_text(path)
        for value in values:
            data = base_profile()
            _setter(path, value)(data)
            files = {SPEC: dump_yaml(base_spec()), PROFILE: _json_text(data)}
            label = f"profile-{_path_text(path)}={_short(value)}"
            yield Case(label, files, ("plan", "{dir}/" + SPEC), where, file=PROFILE, words=words)
            yield Case(
                "validate-" + label, files, ("validate", "{dir}/" + SPEC), where, file=PROFILE, words=words
            )
    for path in (("model_hash",), ("blocks",), ("blocks", 0, "flops"), ("input_bytes",)):
        data = base_profile()
        _deleter(path)(data)
        files = {SPEC: dump_yaml(base_spec()), PROFILE: _json_text(data)}
        yield Case(
            f"profile-missing-{_path_text(path)}",
            files,
            ("plan", "{dir}/" + SPEC),
            _path_text(path[:-1]) if len(path) > 1 else "(top level)",
            file=PROFILE,
            words=str(path[-1]),
        )
    for top in ([], "profile", 5, None):
        files = {SPEC: dump_yaml(base_spec()), PROFILE: json.dumps(top)}
        yield Case(
            f"profile-top={_short(top)}", files, ("plan", "{dir}/" + SPEC), "(top level)", file=PROFILE
        )
    for text, where in (
        ("", "line 1"),
        ("not json", "line 1"),
        ("{'format': 1}", "line 1"),
        ('{"a": 1,}', "line 1"),
        ('{"format": "seifer.profile/v1"', "line 1"),
        ("[" * 100 + "]" * 100, "nested"),
        ('{"x": ' + "1" * 400 + "}", "x"),
        ('{"x": 1e400}', "x"),
        ('{"x": -Infinity}', "x"),
        ('{"x": [NaN]}', "x[0]"),
    ):
        files = {SPEC: dump_yaml(base_spec()), PROFILE: text}
        yield Case(f"profile-text={text[:20]!r}", files, ("plan", "{dir}/" + SPEC), where, file=PROFILE)
    data = base_profile()
    data["blocks"] = [
        {**data["blocks"][0], "name": f"b{i}", "layers": [f"l{i}"]} for i in range(4097)
    ]  # more blocks than any model has cut points: planning time grows with their square
    files = {SPEC: dump_yaml(base_spec()), PROFILE: json.dumps(data)}
    yield Case(
        "profile-4097-blocks", files, ("plan", "{dir}/" + SPEC), "blocks", file=PROFILE, words="too long"
    )
    files = {SPEC: dump_yaml(base_spec()), PROFILE: b"\xff\xfe{\x00"}
    yield Case("profile-utf16", files, ("plan", "{dir}/" + SPEC), "UTF-8", file=PROFILE)


# ------------------------------------------------------------------------------------------ plan locks


def base_lock() -> dict[str, Any]:
    return {
        "format": "seifer.plan-lock/v1",
        "pipeline": "toy-dev",
        "model_hash": "ab" * 32,
        "model_version": "1.0.0",
        "plan_hash": "0" * 16,
        "objective": "full",
        "bottleneck_s": 0.24,
        "stages": [
            {
                "index": 1,
                "first_block": 0,
                "last_block": 1,
                "first_layer": "a",
                "last_layer": "b",
                "node": "pi-1",
            }
        ],
    }


LOCK_VALUES: list[tuple[tuple[Any, ...], Any, str]] = [  # (path, value, field or words named)
    (("bottleneck_s",), NAN, "bottleneck_s"),
    (("bottleneck_s",), INF, "bottleneck_s"),
    (("bottleneck_s",), HUGE, "bottleneck_s"),
    (("stages", 0, "index"), HUGE, "stages[0].index"),
    (("stages", 0, "first_block"), NAN, "stages[0].first_block"),
    (("stages",), 5, "lock"),
    (("stages",), [5], "lock"),
    (("stages",), "x", "lock"),
    (("stages", 0, "index"), "one", "lock"),
    (("stages", 0, "first_block"), [], "lock"),
    (("stages", 0), None, "lock"),
    (("format",), "seifer.plan-lock/v9", "lock"),
    (("format",), 5, "lock"),
]


def lock_cases() -> Iterator[Case]:
    spec = dump_yaml(base_spec())
    profile = toy_profile_json()
    for path, value, where in LOCK_VALUES:
        data = base_lock()
        _setter(path, value)(data)
        for flags in ((), ("--check",), ("--diff",)):
            yield Case(
                f"lock-{_path_text(path)}={_short(value)}{''.join(flags)}",
                {SPEC: spec, PROFILE: profile, LOCK: json.dumps(data)},
                ("plan", "{dir}/" + SPEC, *flags),
                where,
                file=LOCK,
            )
    for path in (("pipeline",), ("stages",), ("stages", 0, "node"), ("bottleneck_s",)):
        data = base_lock()
        _deleter(path)(data)
        yield Case(
            f"lock-missing-{_path_text(path)}",
            {SPEC: spec, PROFILE: profile, LOCK: json.dumps(data)},
            ("plan", "{dir}/" + SPEC, "--check"),
            "lock",
            file=LOCK,
        )
    for text, where in (
        ("", "line 1"),
        ("[1, 2]", "(top level)"),
        ('"lock"', "(top level)"),
        ("null", "(top level)"),
        ("{broken", "line 1"),
        ("[" * 5000 + "]" * 5000, "nested"),
        ('{"a": ' * 70 + "1" + "}" * 70, "nested"),
        ('{"format": "seifer.plan-lock/v1", "stages": [' + "9" * 500 + "]}", "stages[0]"),
    ):
        yield Case(
            f"lock-text={text[:16]!r}",
            {SPEC: spec, PROFILE: profile, LOCK: text},
            ("plan", "{dir}/" + SPEC, "--check"),
            where,
            file=LOCK,
        )


# ------------------------------------------------------------------------------- document-level specs


def alias_bomb(levels: int, width: int) -> str:
    lines = [f"a0: &a0 [{', '.join(['x'] * width)}]"]
    for i in range(1, levels):
        lines.append(f"a{i}: &a{i} [{', '.join([f'*a{i - 1}'] * width)}]")
    return "\n".join(lines) + "\n"


def document_cases() -> Iterator[Case]:
    """Whole-file problems of a spec: syntax, nesting, aliases, encodings, odd YAML types."""
    good = dump_yaml(base_spec())
    profile = toy_profile_json()
    texts: list[tuple[str, str | bytes, str]] = [
        ("unclosed-flow", "kind: [", "line"),
        ("tab-indent", "kind: Pipeline\n\tmetadata: {}\n", "line"),
        ("dup-key", good + "kind: Pipeline\n", "given twice"),
        ("list-top", "- a\n- b\n", "(top level)"),
        ("scalar-top", "just text\n", "(top level)"),
        ("empty", "", "(top level)"),
        ("comment-only", "# nothing\n", "(top level)"),
        ("two-docs", good + "---\n" + good, "one YAML document"),
        ("python-tag", "a: !!python/object:os.system {}\n", "line"),
        ("custom-tag", "a: !secret x\n", "line"),
        ("deep-flow", "a: " + "[" * 200 + "]" * 200 + "\n", "nested"),
        ("deep-block", "".join(f"{'  ' * i}k{i}:\n" for i in range(80)) + "  " * 80 + "v: 1\n", "nested"),
        ("deep-json", '{"a": ' * 100 + "1" + "}" * 100, "nested"),
        ("deep-70-lists", "apiVersion: " + "[" * 70 + "]" * 70 + "\n", "nested"),
        ("bomb-9x9", alias_bomb(9, 9), "aliases repeat"),
        ("bomb-2x40", alias_bomb(40, 2), "aliases repeat"),
        (
            "bomb-mapping",
            "a: &a {"
            + ", ".join(f"k{i}: {i}" for i in range(1000))
            + "}\n"
            + "".join(f"b{i}: *a\n" for i in range(300)),
            "aliases repeat",
        ),
        ("recursive-alias", "a: &a [1, *a]\n", "recursive"),
        ("recursive-map", "a: &a {b: *a}\n", "recursive"),
        ("undefined-alias", "a: *nothing\n", "nothing"),
        ("alias-as-key", "a: &a x\n*a : 1\n", "key"),
        ("non-utf8", b"kind: \xff\xfe\n", "UTF-8"),
        ("nul-bytes", "kind: Pipe\x00line\n", "line"),
        ("binary", bytes(range(256)) * 4, "UTF-8"),
        ("date-key", good.replace("apiVersion:", "2024-01-01: x\napiVersion:"), "(top level)"),
        ("int-key", good.replace("apiVersion:", "1: x\napiVersion:"), "(top level)"),
        ("bool-key", good.replace("apiVersion:", "yes: x\napiVersion:"), "(top level)"),
        ("date-version", good.replace("version: 1.0.0", "version: 2024-01-01"), "model.version"),
        ("nan-yaml", good.replace("speed: 1.0", "speed: .nan", 1), "cluster.nodes[0].speed"),
        ("inf-yaml", good.replace("speed: 1.0", "speed: -.inf", 1), "cluster.nodes[0].speed"),
        ("big-int-yaml", good.replace("queueDepth: 1", "queueDepth: " + "9" * 40), "runtime.queueDepth"),
        ("hex-huge", good.replace("queueDepth: 1", "queueDepth: 0x" + "f" * 40), "runtime.queueDepth"),
        ("sexagesimal", good.replace("queueDepth: 1", "queueDepth: 1:30:00"), "runtime.queueDepth"),
        ("set-type", good.replace("queueDepth: 1", "queueDepth: !!set {a, b}"), "runtime.queueDepth"),
        ("binary-type", good.replace("image: ", "image: !!binary aGVsbG8= #"), "runtime.image"),
        ("bom-and-garbage", "\ufeff{{{{", "line"),
        ("very-long-line", "kind: " + "x" * 5_000_000 + "\n", "kind"),
    ]
    for name, text, where in texts:
        yield Case(f"doc-{name}", {SPEC: text, PROFILE: profile}, ("validate", "{dir}/" + SPEC), where)
    merged = (
        "base: &base {memory: 64Mi, speed: 1.0}\n"  # merge keys are accepted: the error is the unknown key
    )
    data = base_spec()
    text = merged + dump_yaml(data)
    yield Case(
        "doc-merge-then-unknown", {SPEC: text, PROFILE: profile}, ("validate", "{dir}/" + SPEC), "base"
    )
    yield Case("validate-directory", {PROFILE: profile}, ("validate", "{dir}"), "directory", file=None)
    yield Case(
        "validate-missing",
        {PROFILE: profile},
        ("validate", "{dir}/none.yaml"),
        "no such file",
        file="none.yaml",
    )


def all_generated() -> list[Case]:
    """Every generated case, names made unique (values cut short for the name may coincide)."""
    cases, seen = [], {}
    for case in (*spec_cases(), *profile_cases(), *lock_cases(), *document_cases()):
        count = seen[case.name] = seen.get(case.name, 0) + 1
        cases.append(case if count == 1 else dataclasses.replace(case, name=f"{case.name}#{count}"))
    return cases
