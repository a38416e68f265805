# Split and invertible transforms, fitted on the training split only.


rule preprocess:
    input:
        features=FEATURES,
        script=script("preprocess.py"),
        code=code("preprocess.py"),
    output:
        **PREPROCESSED,
    log:
        f"{RESULTS}/logs/preprocess.log",
    benchmark:
        f"{RESULTS}/benchmarks/preprocess.tsv"
    threads: 1
    resources:
        mem_mb=lambda wc, input: data_stage_mem_mb(input),
        runtime=15,
        # The evaluation's classifier k-fold (0: none): preprocessing refuses a test split
        # too small for it. A resource, not a param: a check, not an input of the splits, so
        # a change of evaluate.folds reruns only the evaluations.
        classifier_folds=(
            config["evaluate"]["folds"] if config["evaluate"]["classifiers"] else 0
        ),
    params:
        preprocess=as_json(config["preprocess"]),
    shell:
        "python {input.script:q} --input {input.features:q} --params {params.preprocess:q}"
        " --train {output.train:q} --val {output.val:q} --test {output.test:q}"
        " --transform {output.transform:q} --folds {resources.classifier_folds} --log {log:q}"
