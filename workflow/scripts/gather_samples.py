"""Concatenate a family's sample shards into one table, chunk by chunk
(genhep.gather.run)."""

from genhep.cli import main
from genhep.gather import STAGE

if __name__ == "__main__":
    main(STAGE)
