# Large-scale sampling (sharded) and one evaluation for every family.


rule sample:
    input:
        model=model_file("model"),
        test=PREPROCESSED["test"],
        features=FEATURES,
        script=script("sample.py"),
        code=family_code("sample.py"),
    output:
        # Shards are merged by gather_samples; only the merged table is kept.
        temp(f"{RESULTS}/samples/{{family}}/shard{{shard}}.h5"),
    log:
        f"{RESULTS}/logs/sample/{{family}}_shard{{shard}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/sample/{{family}}_shard{{shard}}.tsv"
    wildcard_constraints:
        family="|".join(FAMILY_NAMES),
        shard=r"\d+",
    priority: 1
    threads: config["sample"]["threads"]
    resources:
        **device_job(config["sample"]),
    params:
        # What the events depend on (genhep.settings.SampleSettings; not the job's
        # resources, nor the shard count: changing those reruns nothing).
        settings=as_json(
            {k: v for k, v in settings_only(config["sample"]).items() if k != "shards"}
        ),
    shell:
        "python {input.script:q} --model {input.model:q} --test {input.test:q}"
        " --features {input.features:q} --output {output:q} --shard {wildcards.shard}"
        " --params {params.settings:q} --threads {threads} --log {log:q}"


rule gather_samples:
    input:
        shards=lambda wc: expand(
            f"{RESULTS}/samples/{wc.family}/shard{{shard}}.h5", shard=SHARDS
        ),
        script=script("gather_samples.py"),
        code=code("gather_samples.py"),
    output:
        f"{RESULTS}/samples/{{family}}.h5",
    log:
        f"{RESULTS}/logs/gather_samples/{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/gather_samples/{{family}}.tsv"
    wildcard_constraints:
        family="|".join(FAMILY_NAMES),
    threads: 1
    resources:
        mem_mb=1000,
        runtime=10
        + config["sample"]["shards"] * config["sample"]["events_per_shard"] // 10**7,
    shell:
        "python {input.script:q} --shards {input.shards:q} --output {output:q} --log {log:q}"


rule evaluate_truth:
    input:
        test=PREPROCESSED["test"],
        features=FEATURES,
        script=script("evaluate.py"),
        code=code("evaluate.py"),
    output:
        metrics=f"{EVALUATION}/truth/metrics.json",
    log:
        f"{RESULTS}/logs/evaluate/truth.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/truth.tsv"
    threads: config["evaluate"]["threads"]
    resources:
        mem_mb=config["evaluate"]["mem_mb"],
        runtime=config["evaluate"]["runtime"],
    params:
        evaluate=as_json(settings_only(config["evaluate"])),
    shell:
        "python {input.script:q} --truth-only --test {input.test:q} --features {input.features:q}"
        " --params {params.evaluate:q} --metrics {output.metrics:q} --threads {threads}"
        " --log {log:q}"


rule evaluate:
    input:
        samples=f"{RESULTS}/samples/{{family}}.h5",
        model=model_file("model"),
        training=model_file("info"),
        test=PREPROCESSED["test"],
        features=FEATURES,
        script=script("evaluate.py"),
        code=family_code("evaluate.py"),
    output:
        metrics=f"{EVALUATION}/{{family}}/metrics.json",
        features=report(
            f"{EVALUATION}/{{family}}/features.png",
            caption="../report/features.rst",
            category="Families",
            subcategory="{family}",
            labels={"family": "{family}", "plot": "feature histograms"},
        ),
        correlation=report(
            f"{EVALUATION}/{{family}}/correlation.png",
            caption="../report/correlation.rst",
            category="Families",
            subcategory="{family}",
            labels={"family": "{family}", "plot": "correlations"},
        ),
    log:
        f"{RESULTS}/logs/evaluate/{{family}}.log",
    benchmark:
        f"{RESULTS}/benchmarks/evaluate/{{family}}.tsv"
    wildcard_constraints:
        family="|".join(FAMILY_NAMES),
    threads: config["evaluate"]["threads"]
    resources:
        mem_mb=config["evaluate"]["mem_mb"],
        runtime=config["evaluate"]["runtime"],
    params:
        evaluate=as_json(settings_only(config["evaluate"])),
    shell:
        "python {input.script:q} --samples {input.samples:q} --model {input.model:q}"
        " --training {input.training:q} --test {input.test:q} --features {input.features:q}"
        " --params {params.evaluate:q} --metrics {output.metrics:q}"
        " --histograms {output.features:q} --correlation {output.correlation:q}"
        " --threads {threads} --log {log:q}"


rule leaderboard:
    input:
        truth=f"{EVALUATION}/truth/metrics.json",
        families=[f"{EVALUATION}/{f}/metrics.json" for f in FAMILY_NAMES],
        samples=SAMPLES.values(),
        test=PREPROCESSED["test"],
        features=FEATURES,
        script=script("leaderboard.py"),
        code=code("leaderboard.py"),
    output:
        csv=LEADERBOARD["csv"],
        md=report(
            LEADERBOARD["md"],
            caption="../report/leaderboard.rst",
            category="Leaderboard",
            labels={"table": "leaderboard"},
        ),
        features=report(
            f"{EVALUATION}/comparison_features.png",
            caption="../report/comparison_features.rst",
            category="Leaderboard",
            labels={"table": "feature histograms, all families"},
        ),
        metrics=report(
            f"{EVALUATION}/comparison_metrics.png",
            caption="../report/comparison_metrics.rst",
            category="Leaderboard",
            labels={"table": "headline metrics"},
        ),
    log:
        f"{RESULTS}/logs/leaderboard.log",
    benchmark:
        f"{RESULTS}/benchmarks/leaderboard.tsv"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        bins=config["evaluate"]["bins"],
    shell:
        "python {input.script:q} --truth {input.truth:q} --families {input.families:q}"
        " --samples {input.samples:q} --test {input.test:q} --features {input.features:q}"
        " --bins {params.bins}"
        " --csv {output.csv:q} --md {output.md:q} --features-plot {output.features:q}"
        " --metrics-plot {output.metrics:q} --log {log:q}"
