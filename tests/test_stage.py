"""The stage interface (genhep.stage, genhep.cli.main) and the typed-settings machinery
(genhep.settings.base): one declaration gives the command line, strict settings, nested
sections and the schema."""

import json
from dataclasses import dataclass, field

import pytest
import torch
from threadpoolctl import threadpool_info

from genhep import cli
from genhep.errors import GenhepError
from genhep.settings.base import (
    as_config,
    from_section,
    schema_properties,
    section,
    setting,
    settings_part,
)
from genhep.stage import Files, Stage


@dataclass
class Window:
    low: float = setting(1.0, "lower edge", minimum=0)
    high: float = setting(2.0, exclusiveMinimum=0)


@dataclass
class Toy:
    n: int = setting(10, minimum=1)
    names: list[str] = setting(["a", "b"], items={"type": "string"})
    window: Window = section(Window, "the window")
    shard: int = field(default=0, metadata={"config": False})  # a job value

    @classmethod
    def from_config(cls, cfg, key="toy"):
        return from_section(cls, cfg, key)


def record(settings, inputs, outputs):
    """A stage that writes what it was given: settings, files and threads."""
    outputs.out.write_text(
        json.dumps(
            {
                "settings": as_config(settings),
                "shard": settings.shard,
                "inputs": [str(p) for p in inputs.many],
                "optional": None if inputs.extra is None else str(inputs.extra),
                "torch_threads": torch.get_num_threads(),
                "blas_threads": sorted({p["num_threads"] for p in threadpool_info()}),
            }
        )
    )


STAGE = Stage("toy", record, Toy, inputs=("many*", "extra?"), outputs=("out",))


def test_nested_settings_take_their_defaults_and_name_an_unknown_nested_key():
    toy = Toy.from_config({"window": {"high": 3.0}, "threads": 4})  # resources passed over
    assert toy.window == Window(low=1.0, high=3.0) and toy.n == 10
    assert Toy().names is not Toy().names  # a list default is copied per instance
    with pytest.raises(GenhepError, match=r"^config key toy\.window\.width: unknown setting$"):
        Toy.from_config({"window": {"width": 1}})
    with pytest.raises(GenhepError, match=r"^config key toy\.size: unknown setting$"):
        Toy.from_config({"size": 1})


def test_schema_of_a_settings_class_nests_sections_and_keeps_job_values_out():
    props = schema_properties(Toy)
    assert props["n"] == {"type": "integer", "minimum": 1, "default": 10}
    assert props["names"] == {"type": "array", "items": {"type": "string"}, "default": ["a", "b"]}
    assert props["window"] == {
        "type": "object",
        "additionalProperties": False,
        "default": {},
        "description": "the window",
        "properties": {
            "low": {"type": "number", "minimum": 0, "default": 1.0, "description": "lower edge"},
            "high": {"type": "number", "exclusiveMinimum": 0, "default": 2.0},
        },
    }
    assert "shard" not in props  # the job's, not a config key
    assert settings_part(Toy, {"n": 3, "shards": 2, "mem_mb": 100}) == {"n": 3}
    assert as_config(Toy.from_config({"n": 3})) == {
        "n": 3,
        "names": ["a", "b"],
        "window": {"low": 1.0, "high": 2.0},
    }


def test_the_command_line_comes_from_the_declaration(tmp_path):
    out = tmp_path / "out.json"
    params = json.dumps({"n": 5, "shard": 2, "window": {"low": 0.5}})
    argv = ["--params", params, "--many", "a.h5", "b.h5", "--out", str(out), "--threads", "2"]
    cli.main(STAGE, argv)
    got = json.loads(out.read_text())
    assert got["settings"] == {"n": 5, "names": ["a", "b"], "window": {"low": 0.5, "high": 2.0}}
    assert got["shard"] == 2 and got["inputs"] == ["a.h5", "b.h5"] and got["optional"] is None
    # the job's threads reach torch and every BLAS/OpenMP pool
    assert got["torch_threads"] == 2 and got["blas_threads"] == [2]


def test_a_missing_file_option_and_an_unknown_setting_are_one_clear_error(tmp_path, capsys):
    with pytest.raises(SystemExit) as stop:
        cli.main(STAGE, ["--many", "a.h5"])  # no --out
    assert stop.value.code == 2 and "--out" in capsys.readouterr().err
    with pytest.raises(SystemExit) as stop:
        cli.main(STAGE, ["--params", '{"m": 1}', "--many", "a", "--out", str(tmp_path / "o")])
    assert stop.value.code == 1
    assert capsys.readouterr().err.strip() == "genhep toy: error: config key toy.m: unknown setting"
    assert not (tmp_path / "o").exists()


def test_a_stage_runs_in_process_with_a_config_dict_and_named_paths(tmp_path):
    STAGE({"n": 2}, {"many": ["x.h5"], "extra": "y.h5"}, {"out": tmp_path / "o.json"})
    got = json.loads((tmp_path / "o.json").read_text())
    assert got["optional"] == "y.h5" and got["settings"]["n"] == 2
    with pytest.raises(GenhepError, match="--out: required"):
        STAGE({}, {"many": []}, {})
    with pytest.raises(AttributeError, match="no file named 'model'"):
        _ = Files({"test": None}).model
