# The CATHODE anomaly search (Hallin et al., arXiv 2109.00546) and its baselines.
# A point is (SR window, seed, injected signal level): each stage is a job per point, so
# the scans of cathode.windows / seeds / signal_levels / families fan out on a cluster.
# Paths: see genhep.cathode.layout, and common.smk's CATHODE_* names built from it.


wildcard_constraints:
    window=r"\d+\.\d\d",
    seed=r"\d+",
    signal=r"\d+",


use rule generate_toy as cathode_generate_toy with:
    output:
        CATHODE_TOY,
    log:
        cathode_log("generate_toy"),
    benchmark:
        cathode_benchmark("generate_toy")
    resources:
        mem_mb=1000,
        runtime=10 + CATHODE_CFG["toy"].get("n_events", 0) // 1_000_000,
    params:
        toy=as_json(cathode_toy_params()),


use rule ingest as cathode_ingest with:
    input:
        roots=[CATHODE_TOY],
        script=script("ingest.py"),
        code=code("ingest.py"),
    output:
        f"{CATHODE}/{layout.EVENTS}",
    log:
        cathode_log("ingest"),
    benchmark:
        cathode_benchmark("ingest")
    params:
        source=f"--inputs {shlex.quote(CATHODE_TOY)}"
        f" --mapping {shlex.quote(as_json('genhep'))}",
        selection=as_json(config["ingest"]["selection"]),
        chunk_size=config["ingest"]["chunk_size"],


rule cathode_fixed:
    input:
        events=CATHODE_EVENTS,
        script=script("cathode_fixed.py"),
        code=code("cathode_fixed.py"),
    output:
        **CATHODE_FIXED_FILES,
    log:
        cathode_log(f"{layout.WINDOW_SEED}/fixed"),
    benchmark:
        cathode_benchmark(f"{layout.WINDOW_SEED}/fixed")
    threads: 1
    resources:
        # Measured: peak ~4x the events file (215 MB -> 870 MB) plus the interpreter.
        mem_mb=lambda wc, input: data_stage_mem_mb(input),
        runtime=15,
    params:
        data=as_json(cathode_data_params()),
    shell:
        "python {input.script:q} --events {input.events:q} --params {params.data:q}"
        " --window {wildcards.window} --seed {wildcards.seed} --test {output.test:q}"
        " --reference {output.reference:q} --signal {output.signal:q} --log {log:q}"


rule cathode_data:
    input:
        events=CATHODE_EVENTS,
        script=script("cathode_data.py"),
        code=code("cathode_data.py"),
    output:
        **CATHODE_DATA_FILES,
    log:
        cathode_log(f"{layout.POINT}/data"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/data")
    threads: 1
    resources:
        # Measured: peak ~4x the events file (215 MB -> 870 MB) plus the interpreter.
        mem_mb=lambda wc, input: data_stage_mem_mb(input),
        runtime=15,
    params:
        data=as_json(cathode_data_params()),
        outdir=lambda wc: cathode_path(wc, CATHODE_DATA),
    shell:
        "python {input.script:q} --events {input.events:q} --params {params.data:q}"
        " --window {wildcards.window} --seed {wildcards.seed} --signal {wildcards.signal}"
        " --outdir {params.outdir:q} --log {log:q}"


# p(x | mjj) of the sidebands (region sb: CATHODE's background model) or of the SR data
# (region sr: ANODE's data model), with the training stage's own script.
rule cathode_density:
    input:
        train=f"{CATHODE_DATA}/{layout.model_inputs('{region}', 'train')}",
        val=f"{CATHODE_DATA}/{layout.model_inputs('{region}', 'val')}",
        script=script("train.py"),
        code=family_code("train.py"),
    output:
        **cathode_density_files(),
    log:
        cathode_log(f"{layout.POINT}/density_{{region}}_{{family}}"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/density_{{region}}_{{family}}")
    wildcard_constraints:
        region="sb|sr",
        family="|".join(CATHODE_FAMILIES),
    threads: CATHODE_CFG["density"]["threads"]
    resources:
        **device_job(CATHODE_CFG["density"]),
    params:
        family=lambda wc: as_json(cathode_density_params(wc.family, wc.seed)),
        outdir=lambda wc: cathode_path(wc, f"{CATHODE_POINT}/{layout.density()}"),
        checkpoint=lambda wc: cathode_path(
            wc, f"{CATHODE_POINT}/{layout.density_checkpoint()}"
        ),
    shell:
        "python {input.script:q} --family {wildcards.family:q} --params {params.family:q}"
        " --train {input.train:q} --val {input.val:q} --outdir {params.outdir:q}"
        " --checkpoint {params.checkpoint:q} --threads {threads} --log {log:q}"


rule cathode_template:
    input:
        model=cathode_density_files("sb")["model"],
        transform=CATHODE_DATA_FILES["transform"],
        sr_data=CATHODE_DATA_FILES["sr_data"],
        script=script("cathode_template.py"),
        code=family_code("cathode_template.py"),
    output:
        CATHODE_TEMPLATE,
    log:
        cathode_log(f"{layout.POINT}/template_{{family}}"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/template_{{family}}")
    wildcard_constraints:
        family="|".join(CATHODE_FAMILIES),
    threads: CATHODE_CFG["density"]["threads"]
    resources:
        **device_job(CATHODE_CFG["density"], runtime=30),
    params:
        interpolation=as_json(
            {
                **CATHODE_CFG["interpolation"],
                **{k: CATHODE_CFG[k] for k in ("sr_width", "mjj_range")},
            }
        ),
        device=CATHODE_CFG["density"]["device"],
    shell:
        "python {input.script:q} --model {input.model:q} --transform {input.transform:q}"
        " --sr-data {input.sr_data:q} --params {params.interpolation:q}"
        " --window {wildcards.window} --seed {wildcards.seed} --device {params.device:q}"
        " --output {output:q} --threads {threads} --log {log:q}"


# The classifier stages: only these (and the evaluation after them) depend on
# cathode.classifier, so changing it never retrains a density model.
CLASSIFY = {
    "shell": "python {input.script:q} --method {params.method:q} --label1 {input.label1:q}"
    " --label0 {input.label0:q} --test {input.test:q} --params {params.classifier:q}"
    " --seed {wildcards.seed} {params.cap} --output {output:q} --threads {threads} --log {log:q}",
    "classifier": as_json(settings_only(CATHODE_CFG["classifier"])),
}


rule cathode_classify:
    input:
        label1=CATHODE_DATA_FILES["sr_data"],
        label0=CATHODE_TEMPLATE,
        test=CATHODE_FIXED_FILES["test"],
        script=script("cathode_classify.py"),
        code=family_code("cathode_classify.py"),
    output:
        f"{CATHODE_POINT}/{layout.scores('cathode_{family}')}",
    log:
        cathode_log(f"{layout.POINT}/cathode_{{family}}"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/cathode_{{family}}")
    wildcard_constraints:
        family="|".join(CATHODE_FAMILIES),
    threads: CATHODE_CFG["classifier"]["threads"]
    resources:
        **device_job(CATHODE_CFG["classifier"]),
    params:
        method=lambda wc: f"cathode_{wc.family}",
        classifier=CLASSIFY["classifier"],
        cap="",
    shell:
        CLASSIFY["shell"]


# Idealized: SR data vs true SR background (as large as the template, no larger);
# CWoLa hunting: SR data vs the short sidebands.
rule cathode_baseline:
    input:
        label1=CATHODE_DATA_FILES["sr_data"],
        label0=lambda wc: cathode_path(
            wc,
            {
                "idealized": CATHODE_FIXED_FILES["reference"],
                "cwola": CATHODE_DATA_FILES["sb_short"],
            }[wc.method],
        ),
        test=CATHODE_FIXED_FILES["test"],
        script=script("cathode_classify.py"),
        code=code("cathode_classify.py"),
    output:
        f"{CATHODE_POINT}/{layout.scores()}",
    log:
        cathode_log(f"{layout.POINT}/{{method}}"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/{{method}}")
    wildcard_constraints:
        method="idealized|cwola",
    threads: CATHODE_CFG["classifier"]["threads"]
    resources:
        **device_job(CATHODE_CFG["classifier"]),
    params:
        method="{method}",
        classifier=CLASSIFY["classifier"],
        cap=lambda wc: (
            f"--label0-ratio {shlex.quote(str(CATHODE_CFG['interpolation']['oversampling']))}"
            if wc.method == "idealized"
            else ""
        ),
    shell:
        CLASSIFY["shell"]


rule cathode_supervised:
    input:
        label1=CATHODE_FIXED_FILES["signal"],
        label0=CATHODE_FIXED_FILES["reference"],
        test=CATHODE_FIXED_FILES["test"],
        script=script("cathode_classify.py"),
        code=code("cathode_classify.py"),
    output:
        CATHODE_SUPERVISED,
    log:
        cathode_log(f"{layout.WINDOW_SEED}/supervised"),
    benchmark:
        cathode_benchmark(f"{layout.WINDOW_SEED}/supervised")
    threads: CATHODE_CFG["classifier"]["threads"]
    resources:
        **device_job(CATHODE_CFG["classifier"]),
    params:
        method="supervised",
        classifier=CLASSIFY["classifier"],
        cap="",
    shell:
        CLASSIFY["shell"]


rule cathode_anode:
    input:
        sb_model=cathode_density_files("sb")["model"],
        sr_model=cathode_density_files("sr")["model"],
        transform=CATHODE_DATA_FILES["transform"],
        test=CATHODE_FIXED_FILES["test"],
        script=script("cathode_anode.py"),
        code=family_code("cathode_anode.py"),
    output:
        f"{CATHODE_POINT}/{layout.scores('anode_{family}')}",
    log:
        cathode_log(f"{layout.POINT}/anode_{{family}}"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/anode_{{family}}")
    wildcard_constraints:
        family="|".join(CATHODE_FAMILIES),
    threads: CATHODE_CFG["density"]["threads"]
    resources:
        **device_job(CATHODE_CFG["density"], runtime=30),
    params:
        device=CATHODE_CFG["density"]["device"],
    shell:
        "python {input.script:q} --sb-model {input.sb_model:q} --sr-model {input.sr_model:q}"
        " --transform {input.transform:q} --test {input.test:q} --device {params.device:q}"
        " --output {output:q} --threads {threads} --log {log:q}"


rule cathode_evaluate:
    input:
        scores=lambda wc: cathode_methods(wc.window, wc.seed, wc.signal).values(),
        test=CATHODE_FIXED_FILES["test"],
        counts=CATHODE_DATA_FILES["counts"],
        script=script("cathode_evaluate.py"),
        code=code("cathode_evaluate.py"),
    output:
        evaluation=CATHODE_EVALUATION["evaluation"],
        curves=CATHODE_EVALUATION["curves"],
        sic=report(
            CATHODE_EVALUATION["sic"],
            caption="../report/cathode.rst",
            category="CATHODE",
            subcategory="SR {window} TeV, seed {seed}",
            labels={"signal injected": "{signal}", "plot": "SIC"},
        ),
        rejection=report(
            CATHODE_EVALUATION["rejection"],
            caption="../report/cathode.rst",
            category="CATHODE",
            subcategory="SR {window} TeV, seed {seed}",
            labels={"signal injected": "{signal}", "plot": "rejection"},
        ),
    log:
        cathode_log(f"{layout.POINT}/evaluate"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/evaluate")
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        scores=lambda wc: " ".join(
            shlex.quote(f"{m}={p}")
            for m, p in cathode_methods(wc.window, wc.seed, wc.signal).items()
        ),
        evaluation=as_json(CATHODE_CFG["evaluation"]),
    shell:
        "python {input.script:q} --scores {params.scores} --test {input.test:q}"
        " --counts {input.counts:q} --params {params.evaluation:q}"
        " --evaluation {output.evaluation:q} --curves {output.curves:q}"
        " --sic {output.sic:q} --rejection {output.rejection:q} --log {log:q}"


rule cathode_summary:
    input:
        evaluations=[
            f"{p}/{layout.EVALUATION_FILES['evaluation']}" for p in cathode_points()
        ],
        script=script("cathode_summary.py"),
        code=code("cathode_summary.py"),
    output:
        csv=CATHODE_SUMMARY["csv"],
        md=report(
            CATHODE_SUMMARY["md"],
            caption="../report/cathode.rst",
            category="CATHODE",
            labels={"table": "max SIC per method and point"},
        ),
        plot=report(
            CATHODE_SUMMARY["plot"],
            caption="../report/cathode.rst",
            category="CATHODE",
            labels={"table": "max SIC vs S/B"},
        ),
    log:
        cathode_log("summary"),
    benchmark:
        cathode_benchmark("summary")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python {input.script:q} --evaluations {input.evaluations:q} --csv {output.csv:q}"
        " --md {output.md:q} --plot {output.plot:q} --log {log:q}"
