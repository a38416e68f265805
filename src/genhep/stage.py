"""What a workflow stage is: ``run(settings, inputs, outputs)``, declared once.

Every stage of the workflow (a rule and its script in ``workflow/scripts``) is a
``Stage`` defined next to its code in the library:

- ``settings``: a typed settings class with ``from_config`` (``genhep.settings``), the one
  place its keys, types and defaults live. The rule passes the config section as one
  ``--params`` JSON; nothing else of the config reaches the stage.
- ``inputs`` and ``outputs``: the names of the files it reads and writes. They are the
  rule's ``input:`` and ``output:`` names, and the script's options (``--name path``),
  built from this declaration (``genhep.cli.main``) and filled by the rule from its own
  names (``stage_command`` in ``workflow/rules/common.smk``): each name is written here
  and in the rule, nowhere else.
- ``run(settings, inputs, outputs)``: the stage itself; ``inputs`` and ``outputs`` are
  ``Files`` (``inputs.model`` is a ``Path``).

The job's threads are not a setting: ``genhep.cli.main`` limits torch and the BLAS/OpenMP
pools to them before ``run`` starts.

This module imports nothing heavy: the Snakefile's helpers may read a stage's names.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from genhep.errors import GenhepError


@dataclass(frozen=True)
class FileSpec:
    """One named file of a stage. ``many``: a list of files (``name*`` in a declaration);
    ``optional``: may be left out (``name?``), then ``None``."""

    name: str
    many: bool = False
    optional: bool = False

    @classmethod
    def parse(cls, text: str) -> FileSpec:
        return cls(text.rstrip("*?"), many=text.endswith("*"), optional=text.endswith("?"))

    @property
    def option(self) -> str:
        return "--" + self.name.replace("_", "-")


class Files:
    """A stage's named files: ``files.test`` is a ``Path`` (a list of them for a
    ``many`` name, ``None`` for an optional one left out)."""

    def __init__(self, paths: Mapping[str, Any]):
        self._paths = dict(paths)

    def __getattr__(self, name: str) -> Any:
        try:
            return self._paths[name]
        except KeyError:
            raise AttributeError(
                f"no file named {name!r} (have: {', '.join(self._paths)})"
            ) from None

    def __getitem__(self, name: str) -> Any:
        return self._paths[name]

    def __repr__(self) -> str:
        return f"Files({self._paths!r})"


def files(specs: Iterable[FileSpec], values: Mapping[str, Any]) -> Files:
    """``Files`` of ``specs`` from {name: path or paths}; a missing required one is an
    error that names it."""
    out = {}
    for spec in specs:
        value = values.get(spec.name)
        if value is None:
            if not spec.optional:
                raise GenhepError(f"{spec.option}: required")
            out[spec.name] = None
        elif spec.many:
            out[spec.name] = [Path(v) for v in value]
        else:
            out[spec.name] = Path(value)
    return Files(out)


@dataclass(frozen=True)
class Stage:
    """One workflow stage (see the module's docstring)."""

    name: str
    run: Callable[[Any, Files, Files], Any]
    settings: Any  # a class with from_config(dict), or None: the stage takes none
    inputs: tuple[str, ...] = ()
    outputs: tuple[str, ...] = ()
    description: str = ""
    # May run torch on a GPU: with several GPUs visible it takes one of its own first.
    gpu: bool = False

    @property
    def input_specs(self) -> list[FileSpec]:
        return [FileSpec.parse(s) for s in self.inputs]

    @property
    def output_specs(self) -> list[FileSpec]:
        return [FileSpec.parse(s) for s in self.outputs]

    def load_settings(self, params: Any) -> Any:
        """The typed settings of a ``--params`` JSON document."""
        if self.settings is None:
            if params:
                raise GenhepError(f"--params: stage {self.name} takes no settings")
            return None
        if not isinstance(params, dict):
            raise GenhepError(f"--params: expected a JSON object, got {json.dumps(params)[:80]}")
        return self.settings.from_config(params)

    def __call__(self, settings: Any, inputs: Mapping[str, Any], outputs: Mapping[str, Any]):
        """Run in process (tests, notebooks): settings as a config dict or typed, files as
        {name: path}."""
        if isinstance(settings, dict) or settings is None:
            settings = self.load_settings(settings or {})
        return self.run(
            settings, files(self.input_specs, inputs), files(self.output_specs, outputs)
        )
