# The CATHODE anomaly search (Hallin et al., arXiv 2109.00546) and its baselines.
# A point is (SR window, seed, injected signal level): each stage is a job per point, so
# the scans of cathode.windows / seeds / signal_levels / families fan out on a cluster.
# Paths: see genhep.cathode.layout, and common.smk's CATHODE_* names built from it.


wildcard_constraints:
    window=r"\d+\.\d\d",
    seed=r"\d+",
    signal=r"\d+",


# The toy section with cathode.toy on top (cathode_toy_params), whole: the toy stage
# refuses a key it does not know (the schema leaves cathode.toy free).
use rule generate_toy as cathode_generate_toy with:
    output:
        root=CATHODE_TOY,
    log:
        cathode_log("generate_toy"),
    benchmark:
        cathode_benchmark("generate_toy")
    resources:
        mem_mb=1000,
        runtime=10 + CATHODE_CFG["toy"].get("n_events", 0) // 1_000_000,
    params:
        settings=as_json(cathode_toy_params()),
        files=stage_files(),


use rule ingest as cathode_ingest with:
    input:
        roots=[CATHODE_TOY],
        script=script("ingest.py"),
        code=code("ingest.py"),
    output:
        features=f"{CATHODE}/{layout.EVENTS}",
    log:
        cathode_log("ingest"),
    benchmark:
        cathode_benchmark("ingest")
    params:
        # The toy's branches (the genhep mapping), read with the ingest section's settings.
        settings=settings_json(IngestSettings, config["ingest"], mapping="genhep"),
        files=stage_files(),


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
        settings=cathode_fixed_params,
        files=stage_files(),
    shell:
        STAGE_SHELL


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
        settings=cathode_data_params,
        files=stage_files(),
    shell:
        STAGE_SHELL


# p(x | mjj) of the sidebands (region sb: CATHODE's background model) or of the SR data
# (region sr: ANODE's data model), with the training stage (genhep.train).
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
        **job_resources(CATHODE_CFG["density"], gpu=True),
    params:
        settings=lambda wc: as_json(cathode_density_params(wc.family, wc.seed)),
        files=stage_files(checkpoint=f"{CATHODE_POINT}/{layout.density_checkpoint()}"),
    shell:
        STAGE_SHELL


rule cathode_template:
    input:
        model=cathode_density_files("sb")["model"],
        transform=CATHODE_DATA_FILES["transform"],
        sr_data=CATHODE_DATA_FILES["sr_data"],
        script=script("cathode_template.py"),
        code=family_code("cathode_template.py"),
    output:
        template=CATHODE_TEMPLATE,
    log:
        cathode_log(f"{layout.POINT}/template_{{family}}"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/template_{{family}}")
    wildcard_constraints:
        family="|".join(CATHODE_FAMILIES),
    threads: CATHODE_CFG["density"]["threads"]
    resources:
        **job_resources(CATHODE_CFG["density"], gpu=True, runtime=30),
    params:
        settings=cathode_template_params,
        files=stage_files(),
    shell:
        STAGE_SHELL


# The classifier stages: only these (and the evaluation after them) depend on
# cathode.classifier, so changing it never retrains a density model. Those of a point
# (not the supervised one) also score the point's held-out sideband background
# (sideband: sb_holdout), on which the evaluation measures their sculpting of mjj.
rule cathode_classify:
    input:
        label1=CATHODE_DATA_FILES["sr_data"],
        label0=CATHODE_TEMPLATE,
        test=CATHODE_FIXED_FILES["test"],
        sideband=CATHODE_DATA_FILES["sb_holdout"],
        script=script("cathode_classify.py"),
        code=family_code("cathode_classify.py"),
    output:
        scores=f"{CATHODE_POINT}/{layout.scores('cathode_{family}')}",
    log:
        cathode_log(f"{layout.POINT}/cathode_{{family}}"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/cathode_{{family}}")
    wildcard_constraints:
        family="|".join(CATHODE_FAMILIES),
    threads: CATHODE_CFG["classifier"]["threads"]
    resources:
        **job_resources(CATHODE_CFG["classifier"], gpu=True),
    params:
        settings=lambda wc: cathode_classify_params(wc, f"cathode_{wc.family}"),
        files=stage_files(),
    shell:
        STAGE_SHELL


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
        sideband=CATHODE_DATA_FILES["sb_holdout"],
        script=script("cathode_classify.py"),
        code=code("cathode_classify.py"),
    output:
        scores=f"{CATHODE_POINT}/{layout.scores()}",
    log:
        cathode_log(f"{layout.POINT}/{{method}}"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/{{method}}")
    wildcard_constraints:
        method="idealized|cwola",
    threads: CATHODE_CFG["classifier"]["threads"]
    resources:
        **job_resources(CATHODE_CFG["classifier"], gpu=True),
    params:
        settings=lambda wc: cathode_classify_params(wc, wc.method),
        files=stage_files(),
    shell:
        STAGE_SHELL


rule cathode_supervised:
    input:
        label1=CATHODE_FIXED_FILES["signal"],
        label0=CATHODE_FIXED_FILES["reference"],
        test=CATHODE_FIXED_FILES["test"],
        script=script("cathode_classify.py"),
        code=code("cathode_classify.py"),
    output:
        scores=CATHODE_SUPERVISED,
    log:
        cathode_log(f"{layout.WINDOW_SEED}/supervised"),
    benchmark:
        cathode_benchmark(f"{layout.WINDOW_SEED}/supervised")
    threads: CATHODE_CFG["classifier"]["threads"]
    resources:
        **job_resources(CATHODE_CFG["classifier"], gpu=True),
    params:
        settings=lambda wc: cathode_classify_params(wc, "supervised"),
        files=stage_files(),
    shell:
        STAGE_SHELL


rule cathode_anode:
    input:
        sb_model=cathode_density_files("sb")["model"],
        sr_model=cathode_density_files("sr")["model"],
        transform=CATHODE_DATA_FILES["transform"],
        test=CATHODE_FIXED_FILES["test"],
        script=script("cathode_anode.py"),
        code=family_code("cathode_anode.py"),
    output:
        scores=f"{CATHODE_POINT}/{layout.scores('anode_{family}')}",
    log:
        cathode_log(f"{layout.POINT}/anode_{{family}}"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/anode_{{family}}")
    wildcard_constraints:
        family="|".join(CATHODE_FAMILIES),
    threads: CATHODE_CFG["density"]["threads"]
    resources:
        **job_resources(CATHODE_CFG["density"], gpu=True, runtime=30),
    params:
        settings=cathode_anode_params(),
        files=stage_files(),
    shell:
        STAGE_SHELL


# LaCATHODE (Hallin et al., arXiv 2210.14924), for the families with a latent map: the
# point's SR data, test set and held-out sideband mapped into the SB model's latent
# space, N(0, I) draws as the template; the classifier then works in that space.
rule cathode_latent:
    input:
        model=cathode_density_files("sb")["model"],
        transform=CATHODE_DATA_FILES["transform"],
        sr_data=CATHODE_DATA_FILES["sr_data"],
        test=CATHODE_FIXED_FILES["test"],
        sideband=CATHODE_DATA_FILES["sb_holdout"],
        script=script("cathode_latent.py"),
        code=family_code("cathode_latent.py"),
    output:
        latent_sr_data=CATHODE_LATENT_FILES["sr_data"],
        latent_template=CATHODE_LATENT_FILES["template"],
        latent_test=CATHODE_LATENT_FILES["test"],
        latent_sideband=CATHODE_LATENT_FILES["sideband"],
    log:
        cathode_log(f"{layout.POINT}/latent_{{family}}"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/latent_{{family}}")
    wildcard_constraints:
        family="|".join(CATHODE_LATENT_FAMILIES),
    threads: CATHODE_CFG["density"]["threads"]
    resources:
        **job_resources(CATHODE_CFG["density"], gpu=True, runtime=30),
    params:
        settings=cathode_template_params,
        files=stage_files(),
    shell:
        STAGE_SHELL


# As cathode_classify, on the latent files: SR data vs the latent template.
rule cathode_lacathode:
    input:
        label1=CATHODE_LATENT_FILES["sr_data"],
        label0=CATHODE_LATENT_FILES["template"],
        test=CATHODE_LATENT_FILES["test"],
        sideband=CATHODE_LATENT_FILES["sideband"],
        script=script("cathode_classify.py"),
        code=family_code("cathode_classify.py"),
    output:
        scores=f"{CATHODE_POINT}/{layout.scores('lacathode_{family}')}",
    log:
        cathode_log(f"{layout.POINT}/lacathode_{{family}}"),
    benchmark:
        cathode_benchmark(f"{layout.POINT}/lacathode_{{family}}")
    wildcard_constraints:
        family="|".join(CATHODE_LATENT_FAMILIES),
    threads: CATHODE_CFG["classifier"]["threads"]
    resources:
        **job_resources(CATHODE_CFG["classifier"], gpu=True),
    params:
        settings=lambda wc: cathode_classify_params(wc, f"lacathode_{wc.family}"),
        files=stage_files(),
    shell:
        STAGE_SHELL


# The scores of every method, in the order of cathode.methods; their labels go in the
# params (cathode_evaluate_params), one per file.
rule cathode_evaluate:
    input:
        scores=lambda wc: list(cathode_methods(wc.window, wc.seed, wc.signal).values()),
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
        sculpting=report(
            CATHODE_EVALUATION["sculpting"],
            caption="../report/cathode.rst",
            category="CATHODE",
            subcategory="SR {window} TeV, seed {seed}",
            labels={"signal injected": "{signal}", "plot": "sculpting"},
        ),
        bumphunt=report(
            CATHODE_EVALUATION["bumphunt"],
            caption="../report/cathode.rst",
            category="CATHODE",
            subcategory="SR {window} TeV, seed {seed}",
            labels={"signal injected": "{signal}", "plot": "bump hunt"},
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
        settings=cathode_evaluate_params,
        files=stage_files(),
    shell:
        STAGE_SHELL


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
        significance=report(
            CATHODE_SUMMARY["significance"],
            caption="../report/cathode.rst",
            category="CATHODE",
            labels={"table": "local significance per SR window"},
        ),
    log:
        cathode_log("summary"),
    benchmark:
        cathode_benchmark("summary")
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10,
    params:
        settings=as_json({}),  # the summary takes no settings
        files=stage_files(),
    shell:
        STAGE_SHELL
