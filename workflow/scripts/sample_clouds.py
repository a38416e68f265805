"""Generate one shard of jets from a cloud generator (genhep.clouds.sample.run)."""

from genhep.cli import main
from genhep.clouds.sample import STAGE

if __name__ == "__main__":
    main(STAGE)
