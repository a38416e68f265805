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
    threads: 1
    resources:
        # Measured: ~200 MB peak at 100k events per chunk; memory scales with the chunk.
        mem_mb=500 + config["ingest"]["chunk_size"] // 100,
        runtime=30,
    params:
        # The files, their mapping(s) and labels: a change reruns ingestion.
        source=ingest_source_options(),
        selection=as_json(config["ingest"]["selection"]),
        chunk_size=config["ingest"]["chunk_size"],
    shell:
        "python {input.script:q} {params.source}"
        " --selection {params.selection:q} --chunk-size {params.chunk_size}"
        " --output {output:q} --log {log:q}"
