"""genhep: generative models for high-energy physics, as a Snakemake workflow."""

__version__ = "0.1.0"
