"""Score a family's generated events against the test split (genhep.evaluate.run)."""

from genhep.cli import main
from genhep.evaluate import STAGE

if __name__ == "__main__":
    main(STAGE)
