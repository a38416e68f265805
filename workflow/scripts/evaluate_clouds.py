"""JetNet's metrics and plots of one class and family (genhep.clouds.evaluate.run)."""

from genhep.cli import main
from genhep.clouds.evaluate import STAGE

if __name__ == "__main__":
    main(STAGE)
