"""Config strings never reach a shell unquoted (issue "Hardening", item 1).

Every string-valued spot of the config schema (a value, an array's items, the names of a
map such as ``families``) is set to values that run a command if a shell sees them
unquoted. Each is either refused at start-up, in process (the Snakefile's start-up
sequence: a one-line message naming the key), or is one of the few strings that pass
(``ACCEPTED``): those are planned with ``snakemake -n -p`` and the planned commands are then
run through bash with a stub ``python`` that records its arguments. The value must arrive
whole inside one argument, and no trap file may appear.
"""

import copy
import json
import os
import re
import subprocess
import sys

import pytest
from test_workflow import TINY, snakemake

from conftest import REPO
from genhep.config import check_config, load_schema
from genhep.errors import GenhepError

SCHEMA_PATH = REPO / "workflow" / "schemas" / "config.schema.yaml"
SCHEMA = load_schema(SCHEMA_PATH)  # with the sections genhep.settings defines

# What a shell runs when it sees these unquoted; {trap} is a directory, {tag} names the key.
VALUES = (
    "; touch {trap}/pwned1_{tag} #",
    "$(touch {trap}/pwned2_{tag})",
    "x'; touch {trap}/pwned3_{tag} #",
)


# --- the schema's string-valued spots --------------------------------------------------------


def _types(schema):
    t = schema.get("type", [])
    return [t] if isinstance(t, str) else list(t)


def takes_string(schema):
    return (
        "string" in _types(schema)
        or any(isinstance(v, str) for v in schema.get("enum", []))
        or any(takes_string(a) for a in schema.get("oneOf", []) + schema.get("anyOf", []))
    )


def string_spots(schema, path=()):
    """(path, kind) of every place a string goes: kind 'value' (the key itself), 'item' (an
    array's items) or 'name' (the keys of a map: families, amplification.overrides,
    cathode.density.families)."""
    if takes_string(schema):
        yield path, "value"
    for alternative in schema.get("oneOf", []) + schema.get("anyOf", []):
        if "object" in _types(alternative):  # files.mapping as an object
            yield from string_spots({"properties": alternative.get("properties", {})}, path)
    for key, sub in schema.get("properties", {}).items():
        yield from string_spots(sub, (*path, key))
    items = schema.get("items")
    if isinstance(items, dict) and takes_string(items):
        yield path, "item"
    entries = schema.get("additionalProperties")
    if "propertyNames" in schema or isinstance(entries, dict):
        yield path, "name"
        if isinstance(entries, dict):  # the keys of one entry, e.g. families.maf.*, jets.files.g.*
            yield from string_spots(entries, (*path, entry_name(schema)))


def entry_name(schema):
    """A valid key of a map: the first its propertyNames allow (jets.files: g), else maf."""
    return schema.get("propertyNames", {}).get("enum", ["maf"])[0]


# Strings inside objects the schema leaves free (a CATHODE density family's own training
# settings): they reach the jobs inside a JSON --params argument. (A family's train
# section and CATHODE's density training are typed from TrainSettings: the walk finds them.)
FREE = [
    ("cathode", "density", "families", "maf", "train", "lr_floor"),
]
SPOTS = [*string_spots(SCHEMA), *((p, "value") for p in FREE)]
# The strings that pass the start-up checks; every other spot is refused there.
ACCEPTED = {
    (("files", "paths"), "item"),  # file names are free: quoted (stage_files)
    (("files", "datasets"), "value"),  # the sheet's path: read at start-up, never in a command
    (("jets", "files", "g", "paths"), "item"),  # file names are free: quoted (stage_files)
    *((p, "value") for p in FREE),
}


def spot_id(spot):
    path, kind = spot
    return ".".join(path) + ("" if kind == "value" else f"[{kind}]")


def tag(spot):
    return re.sub(r"\W", "_", spot_id(spot))


def message_key(spot):
    """The key the refusal must name."""
    path, kind = spot
    return ".".join(path) + ("[0]" if kind == "item" else "")


def setting(spot, value):
    path, kind = spot
    leaf = {"value": value, "item": [value], "name": {value: {}}}[kind]
    for key in reversed(path):
        leaf = {key: leaf}
    return leaf


def merged(base, *updates):
    out = copy.deepcopy(base)
    for update in updates:
        for key, value in update.items():
            if isinstance(value, dict) and isinstance(out.get(key), dict):
                out[key] = merged(out[key], value)
            else:
                out[key] = copy.deepcopy(value)
    return out


def start_up(config):
    """The Snakefile's start-up sequence, in process (everything before the rules)."""
    check_config(config, SCHEMA_PATH)


def make_file(workdir, name):
    """A file at ``name`` (relative to the run directory; the values name odd ones)."""
    path = workdir / name
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return name


def write_sheet(workdir, name, trap):
    """A dataset sheet at ``name`` whose one dataset's file has a shell-ish name too."""
    data = make_file(workdir, f"data/$(touch {trap}/pwned_sheet_paths).root")
    sheet = workdir / name
    sheet.parent.mkdir(parents=True, exist_ok=True)
    sheet.write_text(f"name\tpaths\tmapping\tlabel\nall\t{data}\tgenhep\t1\n")
    return name, data


def context(spot, workdir, trap, value):
    """What a spot needs to be used: the files source, the files it names."""
    path, _ = spot
    if path[:2] == ("jets", "files"):  # the jets branch on files: the class g's entry used
        files = {"g": {"paths": [make_file(workdir, "data/g.h5")]}}
        return {
            "jets": {"families": ["epic_fm"], "source": "files", "classes": ["g"], "files": files}
        }
    if path[0] != "files":
        return {}
    if path == ("files", "datasets"):
        write_sheet(workdir, value, trap)
        return {"source": "files"}
    if path == ("files", "paths"):
        make_file(workdir, value)
        return {"source": "files"}
    return {"source": "files", "files": {"paths": [make_file(workdir, "data/events.root")]}}


def test_the_walk_finds_every_kind_of_string():
    found = {spot_id(s) for s in SPOTS}
    for spot in [
        "source",
        "train.device",
        "sample.device",
        "cathode.density.device",
        "cathode.classifier.device",
        "train.families[item]",
        "amplification.families[item]",
        "cathode.families[item]",
        "cathode.methods[item]",
        "families[name]",
        "amplification.overrides[name]",
        "cathode.density.families[name]",
        "files.tree",
        "files.mapping",
        "files.mapping.tree",
        "files.mapping.label",
        "files.mapping.weight",
        "files.paths[item]",
        "files.datasets",
        "preprocess.context",
        "preprocess.features[item]",
        "cathode.features[item]",
        "cathode.interpolation.bandwidth",
        "jets.families[item]",
        "jets.files[name]",
        "jets.files.g.mapping",
        "jets.files.g.paths[item]",
        "jets.train.device",
        "jets.sample.device",
    ]:
        assert spot in found, spot


@pytest.mark.parametrize("spot", SPOTS, ids=spot_id)
def test_each_string_is_refused_at_start_up_naming_the_key_or_accepted(spot, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # relative paths (files, sheets) are the run directory's
    trap = tmp_path / "trap"
    trap.mkdir()
    for template in VALUES:
        value = template.format(trap=trap, tag=tag(spot))
        config = merged(TINY, context(spot, tmp_path, trap, value), setting(spot, value))
        try:
            start_up(config)
        except GenhepError as err:
            message = str(err)
            assert spot not in ACCEPTED, message
            assert "\n" not in message
            assert message.startswith(f"invalid config: key {message_key(spot)}"), message
        else:
            assert spot in ACCEPTED, f"{spot_id(spot)} = {value!r} passes the start-up checks"
    assert not any(trap.iterdir())


# --- the accepted strings, planned and run through bash ----------------------------------------


def planned_commands(output):
    """The shell commands of a `snakemake -n -p` run."""
    commands = []
    for line in output.splitlines():
        line = line.strip()
        if line.startswith("Shell command: "):
            line = line[len("Shell command: ") :]
        if line.startswith("python ") and "/workflow/scripts/" in line:
            commands.append(line)
    return commands


def run_planned(workdir, config, trap):
    """Plan ``config``, run every planned command through bash (as Snakemake does) with a
    stub python: the argument lists the scripts would have been given."""
    result = snakemake(workdir, config, "-n", "-p")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    commands = planned_commands(result.stdout + result.stderr)
    assert any("ingest.py" in c for c in commands) and any("train.py" in c for c in commands)
    stub = workdir / "stub"
    stub.mkdir()
    (stub / "python").write_text(
        f"#!{sys.executable} -S\nimport json, os, sys\n"
        "with open(os.environ['ARGV_LOG'], 'a') as f:\n"
        "    f.write(json.dumps(sys.argv[1:]) + '\\n')\n"
    )
    (stub / "python").chmod(0o755)
    log = workdir / "argv.jsonl"
    env = {**os.environ, "PATH": f"{stub}{os.pathsep}{os.environ['PATH']}", "ARGV_LOG": str(log)}
    for command in commands:
        ran = subprocess.run(
            ["bash", "-c", f"set -euo pipefail; {command}"],
            cwd=workdir,
            env=env,
            capture_output=True,
            text=True,
        )
        assert ran.returncode == 0, (command, ran.stderr)
    assert not list(trap.iterdir()), "a config string ran as a shell command"
    argvs = [json.loads(line) for line in log.read_text().splitlines()]
    assert len(argvs) == len(commands)
    return commands, [arg for argv in argvs for arg in argv]


@pytest.mark.slow
def test_file_paths_and_free_strings_reach_the_jobs_quoted(tmp_path):
    trap = tmp_path / "trap"
    trap.mkdir()
    workdir = tmp_path / "run"
    workdir.mkdir()
    spot = (("files", "paths"), "item")
    paths = [make_file(workdir, v.format(trap=trap, tag=tag(spot))) for v in VALUES]
    free = {
        p: VALUES[i % len(VALUES)].format(trap=trap, tag=tag((p, "value")))
        for i, p in enumerate(FREE)
    }
    jets = {"families": ["epic_fm"], "source": "files", "classes": ["g"]}
    config = merged(
        TINY,
        {"source": "files", "files": {"paths": paths}},
        {"jets": {**jets, "files": {"g": {"format": "root", "paths": paths}}}},
        *(setting((p, "value"), v) for p, v in free.items()),
    )
    commands, args = run_planned(workdir, config, trap)
    assert any("ingest_clouds.py" in c for c in commands)  # the jets branch read them too
    for path in paths:
        assert args.count(path) == 2  # one argument each: --roots P1 P2 P3, --sources P1 P2 P3
    for value in free.values():
        assert any(value in arg for arg in args if arg.startswith("{"))  # in a JSON --params


@pytest.mark.slow
@pytest.mark.parametrize("template", VALUES, ids=["semicolon", "dollar", "quote"])
def test_the_dataset_sheet_path_never_reaches_a_command(tmp_path, template):
    trap = tmp_path / "trap"
    trap.mkdir()
    workdir = tmp_path / "run"
    workdir.mkdir()
    spot = (("files", "datasets"), "value")
    sheet, data = write_sheet(workdir, template.format(trap=trap, tag=tag(spot)), trap)
    config = merged(TINY, {"source": "files", "files": {"datasets": sheet}})
    commands, args = run_planned(workdir, config, trap)
    assert not any(sheet in c for c in commands)
    # The sheet's rows travel in the ingest stage's JSON --params, its file's name in it.
    assert any(data in arg for arg in args if arg.startswith("{") and '"datasets"' in arg)
