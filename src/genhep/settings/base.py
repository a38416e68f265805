"""The machinery of typed settings: a dataclass field with its JSON-schema constraints,
strict construction from a config section, and the schema properties a class generates.

A settings class is a dataclass whose fields are config keys. A field made with
``setting(default, description, **constraints)`` carries its JSON-schema constraints
(``minimum``, ``enum``, ``pattern``, ...); a field whose type is itself a settings
dataclass is a nested section (``toy.signal``), built from a sub-dict and generated as a
nested object. A field with ``metadata={"config": False}`` is not a config key (the
workflow sets it per job, e.g. a seed wildcard).

This module imports no torch: the Snakefile validates a config without it.
"""

from __future__ import annotations

import dataclasses
import types
import typing
from dataclasses import MISSING, field, fields
from typing import Any, ClassVar

from genhep.errors import GenhepError

# What a batch system is asked for; in the config next to the settings, never a setting.
RESOURCE_KEYS = ("threads", "runtime", "mem_mb")
DEVICE_PATTERN = "^(auto|cpu|cuda(:[0-9]+)?)$"
DEVICE_DESCRIPTION = "auto (CUDA if present), cpu, cuda or cuda:N"


def setting(default: Any, description: str | None = None, **schema: Any) -> Any:
    """A dataclass field with its JSON-schema constraints (and description) as metadata.
    A list or dict default is copied for each instance."""
    meta = dict(schema)
    if description:
        meta["description"] = description
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: _copy(default), metadata={"schema": meta})
    return field(default=default, metadata={"schema": meta})


def job_value(description: str, default: Any = MISSING, example: Any = MISSING) -> Any:
    """A field that is the job's own value (a wildcard or a choice its rule passes in the
    same ``--params``), not a config key; without a default the job must give it
    (``from_section`` names it when it is missing). ``example``: a valid value, with which
    the start-up check builds the settings of a config section alone (genhep.config)."""
    meta = {"config": False, "description": description}
    if example is not MISSING:
        meta["example"] = example
    return field(default=default, kw_only=True, metadata=meta)


def section(cls: type, description: str | None = None) -> Any:
    """A nested settings section (a settings dataclass), all defaults when left out."""
    meta = {"description": description} if description else {}
    return field(default_factory=cls, metadata={"schema": meta})


def _copy(value: Any) -> Any:
    if isinstance(value, list):
        return [_copy(v) for v in value]
    if isinstance(value, dict):
        return {k: _copy(v) for k, v in value.items()}
    return value


class Settings:
    """Base of a settings dataclass: ``from_config`` builds it from a config section (or a
    job's ``--params``), strictly (``from_section``); ``KEY`` is the section's dotted name,
    which errors give (``config key toy.n_event: unknown setting``)."""

    KEY: ClassVar[str] = "settings"

    @classmethod
    def from_config(cls, cfg: dict[str, Any], key: str | None = None) -> Any:
        return from_section(cls, cfg, key or cls.KEY)


def config_fields(cls: type) -> list[dataclasses.Field]:
    """The fields of ``cls`` that are config keys."""
    return [f for f in fields(cls) if f.metadata.get("config", True)]


def job_examples(cls: type) -> dict[str, Any]:
    """The example values of ``cls``'s job values (see :func:`job_value`)."""
    return {
        f.name: f.metadata["example"] for f in dataclasses.fields(cls) if "example" in f.metadata
    }


def settings_part(cls: type, section: dict[str, Any]) -> dict[str, Any]:
    """The keys of a config section that are ``cls``'s settings: not the workflow's own
    keys beside them (the families to train, the number of shards) nor job resources."""
    keys = {f.name for f in config_fields(cls)}
    return {k: v for k, v in section.items() if k in keys}


def _nested(cls: type) -> dict[str, type]:
    """{field name: settings class} of the nested sections of ``cls``."""
    hints = typing.get_type_hints(cls)
    return {
        f.name: hints[f.name] for f in config_fields(cls) if dataclasses.is_dataclass(hints[f.name])
    }


def from_section(cls: type, cfg: dict[str, Any], key: str) -> Any:
    """The settings in a config section (``key`` names it in errors): nested sections
    built the same way, the job resources passed over (the workflow's, not the stage's),
    any other unknown key an error that names it."""
    if not isinstance(cfg, dict):
        raise GenhepError(f"config key {key}: expected a mapping, got {cfg!r}")
    # A job's own values (fields that are no config key, such as a seed wildcard) come
    # in the same document; the config schema keeps users from setting them.
    known = {f.name for f in fields(cls) if f.init}
    unknown = sorted(set(cfg) - known - set(RESOURCE_KEYS))
    if unknown:
        raise GenhepError(f"config key {key}.{unknown[0]}: unknown setting")
    for f in fields(cls):
        required = f.default is MISSING and f.default_factory is MISSING
        if not f.metadata.get("config", True) and required and f.name not in cfg:
            raise GenhepError(f"{key}: no {f.name} given (the job's own value, set by its rule)")
    nested = _nested(cls)
    values = {}
    for name, value in cfg.items():
        if name not in known:
            continue
        if name in nested:
            value = (
                value
                if isinstance(value, nested[name])
                else (from_section(nested[name], value, f"{key}.{name}"))
            )
        values[name] = value
    return cls(**values)


def as_config(settings: Any) -> dict[str, Any]:
    """The config section of a settings object (its config keys; nested ones as dicts)."""
    return {
        f.name: (
            as_config(getattr(settings, f.name))
            if dataclasses.is_dataclass(getattr(settings, f.name))
            else _copy(getattr(settings, f.name))
        )
        for f in config_fields(type(settings))
    }


_JSON_TYPES = {
    int: "integer",
    float: "number",
    str: "string",
    bool: "boolean",
    list: "array",
    dict: "object",
}


def hint_options(hint: Any) -> tuple[Any, ...]:
    """The types a type hint allows: ``(int,)`` for ``int``, ``(str, NoneType)`` for
    ``str | None``."""
    union = typing.get_origin(hint) in (typing.Union, types.UnionType)
    return typing.get_args(hint) if union else (hint,)


def _json_type(hint: Any) -> str:
    return _JSON_TYPES.get(typing.get_origin(hint) or hint, "null")


def schema_properties(cls: type, defaults: bool = True) -> dict[str, dict[str, Any]]:
    """The JSON-schema ``properties`` of a settings dataclass's config keys: type, the
    field's constraints and, with ``defaults``, its default (an override section, such as
    a family's own ``train``, takes no defaults: what it leaves out comes from elsewhere).
    A nested section is an object of its own properties (unknown keys refused)."""
    hints = typing.get_type_hints(cls)
    nested = _nested(cls)
    props = {}
    for f in config_fields(cls):
        if f.name in nested:
            prop = section_schema(nested[f.name], defaults)
            prop.update(f.metadata.get("schema", {}))
            props[f.name] = prop
            continue
        json_types = [_json_type(k) for k in hint_options(hints[f.name])]
        prop = {"type": json_types[0] if len(json_types) == 1 else json_types}
        prop.update(f.metadata.get("schema", {}))
        if defaults and f.default is not MISSING:
            prop["default"] = f.default
        elif defaults and f.default_factory is not MISSING:
            prop["default"] = f.default_factory()
        props[f.name] = prop
    return props


def section_schema(cls: type, defaults: bool = True) -> dict[str, Any]:
    """The JSON schema of a whole settings section: an object of ``cls``'s keys."""
    schema: dict[str, Any] = {
        "type": "object",
        "additionalProperties": False,
        "properties": schema_properties(cls, defaults),
    }
    if defaults:
        schema["default"] = {}
    return schema
