"""Score the truth against itself: the two halves of the test split, the row a perfect
generator reaches (genhep.evaluate.run_truth)."""

from genhep.cli import main
from genhep.evaluate import TRUTH_STAGE

if __name__ == "__main__":
    main(TRUTH_STAGE)
