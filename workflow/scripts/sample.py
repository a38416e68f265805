"""Generate one shard of events from a trained model, in physical units
(genhep.sample.run)."""

from genhep.cli import main
from genhep.sample import STAGE

if __name__ == "__main__":
    main(STAGE)
