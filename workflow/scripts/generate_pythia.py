"""Generate one shard of Pythia 8 events, cluster them with FastJet, write ROOT
(genhep.data.pythia.run)."""

from genhep.cli import main
from genhep.data.pythia import STAGE

if __name__ == "__main__":
    main(STAGE)
