"""Train one generator family on the preprocessed splits (genhep.train.run)."""

from genhep.cli import main
from genhep.train import STAGE

if __name__ == "__main__":
    main(STAGE)
