# The CATHODE anomaly search (Hallin et al., arXiv 2109.00546) and its baselines.
# A point is (SR window, seed, injected signal level): each stage is a job per point, so
# the scans of cathode.windows / seeds / signal_levels / families fan out on a cluster.
# Paths: see genhep.cathode.files.


wildcard_constraints:
    window=r"\d+\.\d\d",
    seed=r"\d+",
    signal=r"\d+",


use rule generate_toy as cathode_generate_toy with:
    output:
        f"{CATHODE}/data/toy.root",
    log:
        f"{RESULTS}/logs/cathode/generate_toy.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/generate_toy.tsv"
    resources:
        mem_mb=1000,
        runtime=10 + CATHODE_CFG["toy"].get("n_events", 0) // 1_000_000,
    params:
        toy=as_json(cathode_toy_params()),


use rule ingest as cathode_ingest with:
    input:
        roots=[f"{CATHODE}/data/toy.root"],
        script=script("ingest.py"),
        code=code("ingest.py"),
    output:
        f"{CATHODE}/data/events.h5",
    log:
        f"{RESULTS}/logs/cathode/ingest.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/ingest.tsv"
    params:
        source=f"--inputs {shlex.quote(f'{CATHODE}/data/toy.root')}"
        f" --mapping {shlex.quote(as_json('genhep'))}",
        selection=as_json(config["ingest"]["selection"]),
        chunk_size=config["ingest"]["chunk_size"],


rule cathode_fixed:
    input:
        events=CATHODE_EVENTS,
        script=script("cathode_fixed.py"),
        code=code("cathode_fixed.py"),
    output:
        test=f"{CATHODE_FIXED}/test.h5",
        reference=f"{CATHODE_FIXED}/reference.h5",
        signal=f"{CATHODE_FIXED}/signal.h5",
    log:
        f"{RESULTS}/logs/cathode/sr{{window}}/seed{{seed}}/fixed.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/sr{{window}}/seed{{seed}}/fixed.tsv"
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
        **{
            name: f"{CATHODE_POINT}/data/{name}.h5"
            for name in (
                "sr_data",
                "sb_short",
                "sb_train",
                "sb_val",
                "sr_train",
                "sr_val",
            )
        },
        transform=f"{CATHODE_POINT}/data/transform.json",
        counts=f"{CATHODE_POINT}/data/counts.json",
    log:
        f"{RESULTS}/logs/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/data.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/data.tsv"
    threads: 1
    resources:
        # Measured: peak ~4x the events file (215 MB -> 870 MB) plus the interpreter.
        mem_mb=lambda wc, input: data_stage_mem_mb(input),
        runtime=15,
    params:
        data=as_json(cathode_data_params()),
        outdir=lambda wc: cathode_path(wc, f"{CATHODE_POINT}/data"),
    shell:
        "python {input.script:q} --events {input.events:q} --params {params.data:q}"
        " --window {wildcards.window} --seed {wildcards.seed} --signal {wildcards.signal}"
        " --outdir {params.outdir:q} --log {log:q}"


# p(x | mjj) of the sidebands (region sb: CATHODE's background model) or of the SR data
# (region sr: ANODE's data model), with the training stage's own script.
rule cathode_density:
    input:
        train=f"{CATHODE_POINT}/data/{{region}}_train.h5",
        val=f"{CATHODE_POINT}/data/{{region}}_val.h5",
        script=script("train.py"),
        code=family_code("train.py"),
    output:
        model=f"{CATHODE_POINT}/density/{{region}}/{{family}}/model.pt",
        hparams=f"{CATHODE_POINT}/density/{{region}}/{{family}}/hparams.json",
        history=f"{CATHODE_POINT}/density/{{region}}/{{family}}/history.csv",
        plot=f"{CATHODE_POINT}/density/{{region}}/{{family}}/loss.png",
        info=f"{CATHODE_POINT}/density/{{region}}/{{family}}/training.json",
    log:
        f"{RESULTS}/logs/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/density_{{region}}_{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/density_{{region}}_{{family}}.tsv"
    wildcard_constraints:
        region="sb|sr",
        family="|".join(CATHODE_FAMILIES),
    threads: CATHODE_CFG["density"]["threads"]
    resources:
        gpu=gpu_slots(CATHODE_CFG["density"]["device"]),
        mem_mb=lambda wc, attempt: CATHODE_CFG["density"]["mem_mb"] * attempt,
        runtime=CATHODE_CFG["density"]["runtime"],
    params:
        family=lambda wc: as_json(cathode_density_params(wc.family, wc.seed)),
        outdir=lambda wc: cathode_path(
            wc, f"{CATHODE_POINT}/density/{{region}}/{{family}}"
        ),
        checkpoint=lambda wc: cathode_path(
            wc, f"{CATHODE_POINT}/density/{{region}}/{{family}}.ckpt"
        ),
    shell:
        "python {input.script:q} --family {wildcards.family:q} --params {params.family:q}"
        " --train {input.train:q} --val {input.val:q} --outdir {params.outdir:q}"
        " --checkpoint {params.checkpoint:q} --threads {threads} --log {log:q}"


rule cathode_template:
    input:
        model=f"{CATHODE_POINT}/density/sb/{{family}}/model.pt",
        transform=f"{CATHODE_POINT}/data/transform.json",
        sr_data=f"{CATHODE_POINT}/data/sr_data.h5",
        script=script("cathode_template.py"),
        code=family_code("cathode_template.py"),
    output:
        f"{CATHODE_POINT}/template/{{family}}.h5",
    log:
        f"{RESULTS}/logs/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/template_{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/template_{{family}}.tsv"
    wildcard_constraints:
        family="|".join(CATHODE_FAMILIES),
    threads: CATHODE_CFG["density"]["threads"]
    resources:
        gpu=gpu_slots(CATHODE_CFG["density"]["device"]),
        mem_mb=lambda wc, attempt: CATHODE_CFG["density"]["mem_mb"] * attempt,
        runtime=30,
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
        label1=f"{CATHODE_POINT}/data/sr_data.h5",
        label0=f"{CATHODE_POINT}/template/{{family}}.h5",
        test=f"{CATHODE_FIXED}/test.h5",
        script=script("cathode_classify.py"),
        code=family_code("cathode_classify.py"),
    output:
        f"{CATHODE_POINT}/scores/cathode_{{family}}.h5",
    log:
        f"{RESULTS}/logs/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/cathode_{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/cathode_{{family}}.tsv"
    wildcard_constraints:
        family="|".join(CATHODE_FAMILIES),
    threads: CATHODE_CFG["classifier"]["threads"]
    resources:
        gpu=gpu_slots(CATHODE_CFG["classifier"]["device"]),
        mem_mb=lambda wc, attempt: CATHODE_CFG["classifier"]["mem_mb"] * attempt,
        runtime=CATHODE_CFG["classifier"]["runtime"],
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
        label1=f"{CATHODE_POINT}/data/sr_data.h5",
        label0=lambda wc: cathode_path(
            wc,
            {
                "idealized": f"{CATHODE_FIXED}/reference.h5",
                "cwola": f"{CATHODE_POINT}/data/sb_short.h5",
            }[wc.method],
        ),
        test=f"{CATHODE_FIXED}/test.h5",
        script=script("cathode_classify.py"),
        code=code("cathode_classify.py"),
    output:
        f"{CATHODE_POINT}/scores/{{method}}.h5",
    log:
        f"{RESULTS}/logs/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/{{method}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/{{method}}.tsv"
    wildcard_constraints:
        method="idealized|cwola",
    threads: CATHODE_CFG["classifier"]["threads"]
    resources:
        gpu=gpu_slots(CATHODE_CFG["classifier"]["device"]),
        mem_mb=lambda wc, attempt: CATHODE_CFG["classifier"]["mem_mb"] * attempt,
        runtime=CATHODE_CFG["classifier"]["runtime"],
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
        label1=f"{CATHODE_FIXED}/signal.h5",
        label0=f"{CATHODE_FIXED}/reference.h5",
        test=f"{CATHODE_FIXED}/test.h5",
        script=script("cathode_classify.py"),
        code=code("cathode_classify.py"),
    output:
        f"{CATHODE}/sr{{window}}/seed{{seed}}/scores/supervised.h5",
    log:
        f"{RESULTS}/logs/cathode/sr{{window}}/seed{{seed}}/supervised.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/sr{{window}}/seed{{seed}}/supervised.tsv"
    threads: CATHODE_CFG["classifier"]["threads"]
    resources:
        gpu=gpu_slots(CATHODE_CFG["classifier"]["device"]),
        mem_mb=lambda wc, attempt: CATHODE_CFG["classifier"]["mem_mb"] * attempt,
        runtime=CATHODE_CFG["classifier"]["runtime"],
    params:
        method="supervised",
        classifier=CLASSIFY["classifier"],
        cap="",
    shell:
        CLASSIFY["shell"]


rule cathode_anode:
    input:
        sb_model=f"{CATHODE_POINT}/density/sb/{{family}}/model.pt",
        sr_model=f"{CATHODE_POINT}/density/sr/{{family}}/model.pt",
        transform=f"{CATHODE_POINT}/data/transform.json",
        test=f"{CATHODE_FIXED}/test.h5",
        script=script("cathode_anode.py"),
        code=family_code("cathode_anode.py"),
    output:
        f"{CATHODE_POINT}/scores/anode_{{family}}.h5",
    log:
        f"{RESULTS}/logs/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/anode_{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/anode_{{family}}.tsv"
    wildcard_constraints:
        family="|".join(CATHODE_FAMILIES),
    threads: CATHODE_CFG["density"]["threads"]
    resources:
        gpu=gpu_slots(CATHODE_CFG["density"]["device"]),
        mem_mb=lambda wc, attempt: CATHODE_CFG["density"]["mem_mb"] * attempt,
        runtime=30,
    params:
        device=CATHODE_CFG["density"]["device"],
    shell:
        "python {input.script:q} --sb-model {input.sb_model:q} --sr-model {input.sr_model:q}"
        " --transform {input.transform:q} --test {input.test:q} --device {params.device:q}"
        " --output {output:q} --threads {threads} --log {log:q}"


rule cathode_evaluate:
    input:
        scores=lambda wc: cathode_methods(wc.window, wc.seed, wc.signal).values(),
        test=f"{CATHODE_FIXED}/test.h5",
        counts=f"{CATHODE_POINT}/data/counts.json",
        script=script("cathode_evaluate.py"),
        code=code("cathode_evaluate.py"),
    output:
        evaluation=f"{CATHODE_POINT}/evaluation.json",
        curves=f"{CATHODE_POINT}/curves.h5",
        sic=report(
            f"{CATHODE_POINT}/sic.png",
            caption="../report/cathode.rst",
            category="CATHODE",
            subcategory="SR {window} TeV, seed {seed}",
            labels={"signal injected": "{signal}", "plot": "SIC"},
        ),
        rejection=report(
            f"{CATHODE_POINT}/rejection.png",
            caption="../report/cathode.rst",
            category="CATHODE",
            subcategory="SR {window} TeV, seed {seed}",
            labels={"signal injected": "{signal}", "plot": "rejection"},
        ),
    log:
        f"{RESULTS}/logs/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/evaluate.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/sr{{window}}/seed{{seed}}/s{{signal}}/evaluate.tsv"
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
        evaluations=[f"{p}/evaluation.json" for p in cathode_points()],
        script=script("cathode_summary.py"),
        code=code("cathode_summary.py"),
    output:
        csv=f"{CATHODE}/summary.csv",
        md=report(
            f"{CATHODE}/summary.md",
            caption="../report/cathode.rst",
            category="CATHODE",
            labels={"table": "max SIC per method and point"},
        ),
        plot=report(
            f"{CATHODE}/max_sic.png",
            caption="../report/cathode.rst",
            category="CATHODE",
            labels={"table": "max SIC vs S/B"},
        ),
    log:
        f"{RESULTS}/logs/cathode/summary.log",
    benchmark:
        f"{RESULTS}/benchmarks/cathode/summary.tsv"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    shell:
        "python {input.script:q} --evaluations {input.evaluations:q} --csv {output.csv:q}"
        " --md {output.md:q} --plot {output.plot:q} --log {log:q}"
