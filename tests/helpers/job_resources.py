"""Print, as JSON, the resources Snakemake gives each job of a DAG at attempts 1 and 2.

    python job_resources.py SNAKEFILE WORKDIR CONFIGFILE TARGET [TARGET ...]

Snakemake has no command-line view of a retry's resources, so this builds the DAG
through its API (without running anything) and asks every job for its resources as
a first and as a second attempt. Unevaluated resources (input not there yet) are
printed as null.
"""

import json
import sys
from pathlib import Path

from snakemake.api import SnakemakeApi
from snakemake.settings.types import ConfigSettings, DAGSettings, ResourceSettings


def resources(job):
    return {
        k: (v if isinstance(v, int | float) else None)
        for k, v in job.resources.items()
        if k in ("mem_mb", "runtime", "gpu", "_cores")
    }


def main(snakefile, workdir, configfile, *targets):
    rows = []
    with SnakemakeApi() as api:
        workflow_api = api.workflow(
            resource_settings=ResourceSettings(),
            config_settings=ConfigSettings(configfiles=[Path(configfile)]),
            snakefile=Path(snakefile),
            workdir=Path(workdir),
        )
        workflow_api.dag(DAGSettings(targets=set(targets)))
        workflow = workflow_api._workflow
        workflow._prepare_dag(
            forceall=False, ignore_incomplete=True, lock_warn_only=True, nolock=True
        )
        workflow._build_dag()
        for job in workflow.dag.jobs:
            first = resources(job)
            job.attempt = 2
            rows.append(
                {
                    "rule": job.rule.name,
                    "wildcards": dict(job.wildcards_dict),
                    "attempt1": first,
                    "attempt2": resources(job),
                }
            )
    print(json.dumps(rows))


if __name__ == "__main__":
    main(*sys.argv[1:])
