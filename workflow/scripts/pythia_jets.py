"""Generate one shard of Pythia 8 jets of one class as particle clouds, write ROOT
(genhep.data.pythia_jets.run)."""

from genhep.cli import main
from genhep.data.pythia_jets import STAGE

if __name__ == "__main__":
    main(STAGE)
