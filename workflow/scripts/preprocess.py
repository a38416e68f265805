"""Split the feature table into train/val/test and fit the invertible transforms on train
(genhep.preprocess.run)."""

from genhep.cli import main
from genhep.preprocess import STAGE

if __name__ == "__main__":
    main(STAGE)
