"""The spec loader on the shipped stacks and on a corpus of broken specs, each of a different kind."""

import copy
import math
from pathlib import Path

import pytest
import yaml

from seifer_iac.spec import SpecError, load_spec, spec_from_data

ROOT = Path(__file__).resolve().parents[2]
DEV = ROOT / "stacks" / "dev.pipeline.yaml"


@pytest.fixture(scope="module")
def dev_data():
    return yaml.safe_load(DEV.read_text())


def test_dev_stack_parses_units(dev_data):
    spec = load_spec(DEV)
    assert spec.name == "mobilenet-dev"
    pi3 = spec.cluster.node("pi-3")
    assert pi3.memory_bytes == 512 * 2**20
    assert pi3.usable_memory_bytes == 448 * 2**20
    assert math.isclose(pi3.flops_per_s, 0.8 * 4e9)
    assert spec.cluster.bandwidth("gateway", "pi-1") == 80e6
    assert spec.cluster.bandwidth("pi-1", "gateway") == 80e6  # symmetric unless both given
    assert spec.cluster.bandwidth("pi-1", "pi-2") == 20e6  # the default
    assert spec.cluster.bandwidth("pi-1", "pi-1") == math.inf
    assert spec.runtime.codec.name == "lz4"
    assert spec.runtime.memory_overhead_bytes == 0  # the measured memory model counts the runtime
    assert (spec.runtime.backend, spec.runtime.precision) == ("litert", "fp32")
    assert not spec.cluster.node("gateway").schedulable


def test_edge_lab_stack_is_valid():
    spec = load_spec(ROOT / "stacks" / "edge-lab.pipeline.yaml")
    assert len([n for n in spec.cluster.nodes if n.schedulable]) == 8
    assert spec.runtime.codec.ratio == pytest.approx(32 / 12)
    assert spec.planner.objective == "communication"


def test_both_directions_given_stay_asymmetric(dev_data):
    data = copy.deepcopy(dev_data)
    data["cluster"]["bandwidth"]["links"] += [
        {"from": "pi-1", "to": "pi-3", "bandwidth": "10Mbps"},
        {"from": "pi-3", "to": "pi-1", "bandwidth": "3Mbps"},
    ]
    cluster = spec_from_data(data, base_dir=ROOT / "stacks").cluster
    assert cluster.bandwidth("pi-1", "pi-3") == 10e6
    assert cluster.bandwidth("pi-3", "pi-1") == 3e6


def test_same_input_gives_equal_specs():
    assert load_spec(DEV) == load_spec(DEV)


def _set(path, value):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        target[path[-1]] = value

    return mutate


def _delete(path):
    def mutate(data):
        target = data
        for key in path[:-1]:
            target = target[key]
        del target[path[-1]]

    return mutate


def _add_link(link):
    return lambda data: data["cluster"]["bandwidth"]["links"].append(link)


def _add_node(node):
    return lambda data: data["cluster"]["nodes"].append(node)


def _isolate_pi3(data):
    del data["cluster"]["bandwidth"]["default"]
    data["cluster"]["bandwidth"]["links"] += [
        {"from": "gateway", "to": "pi-2", "bandwidth": "10Mbps"},
    ]


def _all_unschedulable(data):
    for node in data["cluster"]["nodes"]:
        node["schedulable"] = False


# (id, mutation, field path the message must name, words the message must contain)
BROKEN = [
    (
        "size-in-bits",
        _set(["cluster", "nodes", 2, "memory"], "512Mb"),
        "cluster.nodes[2].memory",
        "not a size",
    ),
    (
        "size-word",
        _set(["cluster", "nodes", 1, "memory"], "lots"),
        "cluster.nodes[1].memory",
        "use Ki, Mi, Gi",
    ),
    ("zero-memory", _set(["cluster", "nodes", 1, "memory"], 0), "cluster.nodes[1].memory", "more than zero"),
    (
        "reserved-too-big",
        _set(["cluster", "nodes", 4, "reserved"], "1Gi"),
        "cluster.nodes[4].reserved",
        "less than",
    ),
    ("duplicate-node", _add_node({"name": "pi-1", "memory": "1Gi"}), "cluster.nodes[5].name", "already used"),
    (
        "bad-node-name",
        _set(["cluster", "nodes", 1, "name"], "Pi_1"),
        "cluster.nodes[1].name",
        "not a valid name",
    ),
    (
        "memory-missing",
        _delete(["cluster", "nodes", 1, "memory"]),
        "cluster.nodes[1]",
        "missing required field 'memory'",
    ),
    (
        "field-typo",
        _add_node({"name": "pi-9", "memroy": "1Gi", "memory": "1Gi"}),
        "cluster.nodes[5]",
        "did you mean 'memory'",
    ),
    (
        "negative-speed",
        _set(["cluster", "nodes", 1, "speed"], -1),
        "cluster.nodes[1].speed",
        "more than zero",
    ),
    ("speed-unit", _set(["cluster", "nodes", 1, "speed"], "2GHz"), "cluster.nodes[1].speed", "compute speed"),
    (
        "bandwidth-typo",
        _set(["cluster", "bandwidth", "default"], "20Mbs"),
        "cluster.bandwidth.default",
        "not a bandwidth",
    ),
    (
        "bandwidth-zero",
        _add_link({"from": "pi-1", "to": "pi-2", "bandwidth": 0}),
        "cluster.bandwidth.links[5].bandwidth",
        "positive",
    ),
    (
        "link-unknown-node",
        _add_link({"from": "pi-1", "to": "pi-7", "bandwidth": "1Mbps"}),
        "cluster.bandwidth.links[5].to",
        "not a node",
    ),
    (
        "link-to-itself",
        _add_link({"from": "pi-1", "to": "pi-1", "bandwidth": "1Mbps"}),
        "cluster.bandwidth.links[5]",
        "itself",
    ),
    (
        "link-twice",
        _add_link({"from": "gateway", "to": "pi-1", "bandwidth": "1Mbps"}),
        "cluster.bandwidth.links[5]",
        "already given",
    ),
    (
        "link-missing-rate",
        _add_link({"from": "pi-1", "to": "pi-2"}),
        "cluster.bandwidth.links[5]",
        "missing required field 'bandwidth'",
    ),
    ("unreachable-node", _isolate_pi3, "cluster.nodes[4]", "cannot be reached"),
    (
        "dispatcher-unknown",
        _set(["dispatcher", "node"], "gatewy"),
        "dispatcher.node",
        "did you mean 'gateway'",
    ),
    ("dispatcher-port-range", _set(["dispatcher", "port"], 70000), "dispatcher.port", "<= 65535"),
    ("dispatcher-port-reserved", _set(["dispatcher", "port"], 5601), "dispatcher.port", "reserved"),
    ("deadline-unit", _set(["dispatcher", "deadline"], "10 sec"), "dispatcher.deadline", "not a duration"),
    ("bad-cidr", _set(["dispatcher", "allowFrom"], ["everyone"]), "dispatcher.allowFrom[0]", "wrong form"),
    ("no-model-source", _delete(["model", "application"]), "model", "exactly one of"),
    ("two-model-sources", _set(["model", "file"], "m.keras"), "model", "only one of"),
    (
        "unknown-application",
        _set(["model", "application"], "MobileNetV5"),
        "model.application",
        "did you mean MobileNetV2",
    ),
    (
        "missing-model-file",
        lambda d: (d["model"].pop("application"), d["model"].update(file="nope.keras")),
        "model.file",
        "not found",
    ),
    ("missing-version", _delete(["model", "version"]), "model", "missing required field 'version'"),
    ("version-not-string", _set(["model", "version"], 1.0), "model.version", "expected string"),
    ("shape-zero", _set(["model", "inputShape"], [224, 0, 3]), "model.inputShape[1]", ">= 1"),
    ("codec-unknown", _set(["runtime", "codec"], "gzip"), "runtime.codec", "not a codec"),
    (
        "codec-param-wrong-codec",
        _set(["runtime", "codec"], {"name": "lz4", "rate": 8}),
        "runtime.codec",
        "only apply to zfp",
    ),
    (
        "codec-param-wrong-mode",
        _set(["runtime", "codec"], {"name": "zfp", "mode": "rate", "tolerance": 0.1}),
        "runtime.codec",
        "do not apply to zfp mode 'rate'",
    ),
    (
        "codec-tolerance-missing",
        _set(["runtime", "codec"], {"name": "zfp", "mode": "tolerance"}),
        "runtime.codec",
        "needs 'tolerance'",
    ),
    (
        "codec-bad-mode",
        _set(["runtime", "codec"], {"name": "zfp", "mode": "lossy"}),
        "runtime.codec.mode",
        "not one of",
    ),
    ("queue-zero", _set(["runtime", "queueDepth"], 0), "runtime.queueDepth", ">= 1"),
    ("image-missing", _delete(["runtime", "image"]), "runtime", "missing required field 'image'"),
    ("objective-typo", _set(["planner", "objective"], "fastest"), "planner.objective", "not one of"),
    ("margin-too-big", _set(["planner", "stabilityMargin"], 5), "planner.stabilityMargin", "<= 1"),
    ("chunk-too-big", _set(["weights", "chunkSize"], "2Mi"), "weights.chunkSize", "at most 1 MiB"),
    ("name-too-long", _set(["metadata", "name"], "a" * 60), "metadata.name", "at most 50"),
    (
        "name-digit-first",
        _set(["metadata", "name"], "3d-net"),
        "metadata.name",
        "start with a lower-case letter",
    ),
    (
        "version-is-a-date",
        _set(["model", "version"], __import__("datetime").date(2024, 1, 1)),
        "model.version",
        "quote it",
    ),
    (
        "label-key-not-text",
        _set(["cluster", "nodes", 1, "labels"], {1: "a", "b": "c"}),
        "cluster.nodes[1].labels",
        "key 1 is not text",
    ),
    (
        "label-value-bad",
        _set(["cluster", "nodes", 1, "labels"], {"room": "a b"}),
        "cluster.nodes[1].labels.room",
        "not a valid Kubernetes label",
    ),
    ("top-key-not-text", _set([2], 3), "(top level)", "key 2 is not text"),
    (
        "memory-infinite",
        _set(["cluster", "nodes", 1, "memory"], "1e999Mi"),
        "cluster.nodes[1].memory",
        "finite",
    ),
    (
        "speed-nan",
        _set(["cluster", "nodes", 1, "speed"], float("nan")),
        "cluster.nodes[1].speed",
        "not a finite number",
    ),
    (
        "cidr-invalid",
        _set(["dispatcher", "allowFrom"], ["999.1.1.1/99"]),
        "dispatcher.allowFrom[0]",
        "not a network",
    ),
    ("in-flight-huge", _set(["dispatcher", "maxInFlight"], 10**6), "dispatcher.maxInFlight", "<= 4096"),
    ("name-uppercase", _set(["metadata", "name"], "MobileNet"), "metadata.name", "not a valid name"),
    ("api-version", _set(["apiVersion"], "v1"), "apiVersion", "must be"),
    ("unknown-top-field", _set(["clusters"], {}), "(top level)", "did you mean 'cluster'"),
    ("nodes-not-list", _set(["cluster", "nodes"], {"pi-1": "1Gi"}), "cluster.nodes", "expected array"),
    ("nobody-schedulable", _all_unschedulable, "cluster.nodes", "no node is schedulable"),
]


@pytest.mark.parametrize(("mutate", "field", "words"), [b[1:] for b in BROKEN], ids=[b[0] for b in BROKEN])
def test_each_broken_spec_names_the_field(dev_data, mutate, field, words):
    data = copy.deepcopy(dev_data)
    mutate(data)
    with pytest.raises(SpecError) as caught:
        spec_from_data(data, source="spec.yaml", base_dir=DEV.parent)
    matching = [p for p in caught.value.problems if p.startswith(field + ":") and words in p]
    assert matching, f"no problem names {field!r} with {words!r}: {caught.value.problems}"


def test_corpus_is_large_and_distinct():
    assert len(BROKEN) >= 25
    assert len({b[0] for b in BROKEN}) == len(BROKEN)


def test_several_problems_are_reported_together(dev_data):
    data = copy.deepcopy(dev_data)
    data["cluster"]["nodes"][1]["memory"] = "1GB"
    data["cluster"]["nodes"][2]["memory"] = "1 Gi B"
    data["dispatcher"]["node"] = "nowhere"
    with pytest.raises(SpecError) as caught:
        spec_from_data(data, base_dir=DEV.parent)
    assert len(caught.value.problems) == 3


@pytest.mark.parametrize(
    ("content", "words"),
    [
        ("[1, 2]", "got list"),
        ("", "got empty"),
        ("just text", "got str"),
        ("a: [1, 2", "not valid YAML"),
        ("a:\n\tb: 1", "not valid YAML"),
    ],
)
def test_bad_documents(tmp_path, content, words):
    path = tmp_path / "bad.yaml"
    path.write_text(content)
    with pytest.raises(SpecError, match=words):
        load_spec(path)


def test_a_key_given_twice_is_an_error(tmp_path):
    path = tmp_path / "twice.yaml"
    path.write_text(DEV.read_text().replace("  port: 8080\n", "  port: 8080\n  port: 9090\n"))
    with pytest.raises(SpecError, match="key 'port' is given twice"):
        load_spec(path)


def test_missing_file(tmp_path):
    with pytest.raises(SpecError, match="no such file"):
        load_spec(tmp_path / "absent.yaml")


def test_json_specs_work(tmp_path, dev_data):
    import json

    path = tmp_path / "dev.json"
    path.write_text(json.dumps(dev_data))
    assert load_spec(path).name == "mobilenet-dev"
