"""Concatenate a cloud family's sample shards (genhep.clouds.gather.run)."""

from genhep.cli import main
from genhep.clouds.gather import STAGE

if __name__ == "__main__":
    main(STAGE)
