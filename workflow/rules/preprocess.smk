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
    params:
        preprocess=as_json(config["preprocess"]),
    shell:
        "python {input.script:q} --input {input.features:q} --params {params.preprocess:q}"
        " --train {output.train:q} --val {output.val:q} --test {output.test:q}"
        " --transform {output.transform:q} --log {log:q}"
