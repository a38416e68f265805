# ROOT -> event features (HDF5), chunk by chunk.


rule ingest:
    input:
        roots=source_root_files(),
        script=script("ingest.py"),
        code=code("ingest.py"),
    output:
        FEATURES,
    log:
        f"{RESULTS}/logs/ingest.log",
    benchmark:
        f"{RESULTS}/benchmarks/ingest.tsv"
    conda:
        ENV
    threads: 1
    resources:
        # Measured: ~200 MB peak at 100k events per chunk; memory scales with the chunk.
        mem_mb=500 + config["ingest"]["chunk_size"] // 100,
        runtime=30,
    params:
        mapping=as_json(source_mapping()),
        tree=tree_option(),
        selection=as_json(config["ingest"]["selection"]),
        chunk_size=config["ingest"]["chunk_size"],
    shell:
        "python {input.script:q} --inputs {input.roots:q} --mapping {params.mapping:q} {params.tree}"
        " --selection {params.selection:q} --chunk-size {params.chunk_size}"
        " --output {output:q} --log {log:q}"
