"""Typed settings, one class per stage (or config section): the single place where each
default, type and range is written.

The config schema (``workflow/schemas/config.schema.yaml``) does not repeat them: every
section in ``genhep.settings.sections.SECTIONS`` gets its properties from its class
(``schema_properties``) when the workflow loads the schema (``genhep.config.load_schema``);
the YAML keeps only what is the workflow's (the families to train, the number of shards,
job resources). A field says its JSON-schema constraints in its metadata
(``genhep.settings.base.setting``).

``from_config`` is strict: an unknown key is an error that names it. The job resources
(``threads``, ``runtime``, ``mem_mb``) are the workflow's business, not a setting:
``from_config`` passes over them.

Modules: ``base`` (the machinery), ``training``, ``evaluation`` (sampling, evaluation),
``data`` (sources, ingestion, preprocessing), ``cathode``; ``sections`` maps config
sections to classes. This ``__init__`` imports none of them, so a stage that imports one
module's settings does not rerun when another's change (``genhep.stage_code``).

This package imports no torch, so the Snakefile can validate a config without it.
"""
