# Event sources. Every source ends as ROOT files, so ingestion always reads real ROOT.


rule generate_toy:
    input:
        script=script("generate_toy.py"),
    output:
        f"{RESULTS}/data/toy.root",
    log:
        f"{RESULTS}/logs/generate_toy.log",
    benchmark:
        f"{RESULTS}/benchmarks/generate_toy.tsv"
    conda:
        ENV
    threads: 1
    resources:
        # ~100k events are generated at a time; the ROOT writer buffers one chunk.
        mem_mb=1000,
        runtime=10 + config["toy"]["n_events"] // 1_000_000,
    params:
        toy=as_json(config["toy"]),
    shell:
        "python {input.script:q} --params {params.toy:q} --output {output:q} --log {log:q}"
