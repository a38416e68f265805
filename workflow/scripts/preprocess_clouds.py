"""Split one jet class and fit its transforms (genhep.clouds.preprocess.run)."""

from genhep.cli import main
from genhep.clouds.preprocess import STAGE

if __name__ == "__main__":
    main(STAGE)
